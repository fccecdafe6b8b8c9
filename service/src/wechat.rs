//! The WeChat API as scrm uses it: exchanging a mini-program login code for
//! the user's openid (`/sns/jscode2session`), and sending subscribe messages
//! (`/cgi-bin/message/subscribe/send`) with an access token from
//! `/cgi-bin/stable_token`, per the WeChat mini-program server API
//! documentation.
//!
//! The access token is cached per process and refreshed by one caller at a
//! time: callers that find it being refreshed wait for that refresh rather
//! than start their own, so a burst of deliveries with an expired token
//! costs one refresh.
//!
//! Every call has a connect timeout and a total timeout. The app secret and
//! the `session_key` are secrets: neither is logged, and the `session_key`
//! never leaves the server.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// WeChat's own origin, used unless configured otherwise.
pub const DEFAULT_API_BASE: &str = "https://api.weixin.qq.com";

/// How long a busy WeChat should be left alone, when it says nothing itself.
const BUSY_RETRY_AFTER_SECS: u64 = 5;

/// A client of the WeChat server API for one mini-program.
#[derive(Clone)]
pub struct WechatClient {
    http: reqwest::Client,
    api_base: String,
    appid: String,
    secret: SecretString,
    token: Arc<tokio::sync::Mutex<Option<AccessToken>>>,
}

/// A cached access token and when to stop using it.
struct AccessToken {
    value: SecretString,
    use_until: Instant,
}

/// A token is replaced this long before WeChat says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(300);

impl fmt::Debug for WechatClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatClient")
            .field("api_base", &self.api_base)
            .field("appid", &self.appid)
            .finish_non_exhaustive()
    }
}

/// What `jscode2session` answers for a valid code.
#[derive(Debug)]
pub struct WechatSession {
    pub openid: String,
    pub unionid: Option<String>,
    pub session_key: SecretString,
}

#[derive(Debug, thiserror::Error)]
pub enum WechatError {
    /// errcode 40029: the code is wrong, used or expired.
    #[error("WeChat did not accept the login code")]
    InvalidCode,
    /// errcode -1 (system busy) or 45011 (rate limited), or WeChat could not
    /// be reached in time: worth retrying later.
    #[error("WeChat is busy or unreachable")]
    Unavailable { retry_after_secs: u64 },
    /// Any other errcode, such as 40226 (a user blocked for risk).
    #[error("WeChat refused the request with errcode {errcode}")]
    Refused { errcode: i64 },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Deserialize)]
struct CodeToSessionReply {
    openid: Option<String>,
    unionid: Option<String>,
    session_key: Option<String>,
    #[serde(default)]
    errcode: i64,
}

impl WechatClient {
    pub fn new(api_base: &str, appid: &str, secret: SecretString) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .build()
            .context("failed to build the WeChat HTTP client")?;
        Ok(Self {
            http,
            api_base: api_base.trim_end_matches('/').to_owned(),
            appid: appid.to_owned(),
            secret,
            token: Arc::new(tokio::sync::Mutex::new(None)),
        })
    }

    /// Exchanges the `code` of `wx.login` for the user's openid.
    #[tracing::instrument(name = "wechat jscode2session", skip_all)]
    pub async fn code_to_session(&self, code: &str) -> Result<WechatSession, WechatError> {
        let url = format!("{}/sns/jscode2session", self.api_base);
        let response = self
            .http
            .get(url)
            .query(&[
                ("appid", self.appid.as_str()),
                ("secret", self.secret.expose_secret()),
                ("js_code", code),
                ("grant_type", "authorization_code"),
            ])
            .send()
            .await
            .map_err(|e| unreachable_wechat(&e))?;
        let reply: CodeToSessionReply = response
            .error_for_status()
            .map_err(|e| unreachable_wechat(&e))?
            .json()
            .await
            .context("WeChat answered jscode2session with an unreadable body")?;

        match (reply.errcode, reply.openid, reply.session_key) {
            (0, Some(openid), Some(session_key)) => Ok(WechatSession {
                openid,
                unionid: reply.unionid,
                session_key: SecretString::from(session_key),
            }),
            (40029, ..) => Err(WechatError::InvalidCode),
            (-1 | 45011, ..) => Err(WechatError::Unavailable {
                retry_after_secs: BUSY_RETRY_AFTER_SECS,
            }),
            (0, ..) => Err(anyhow::anyhow!("WeChat answered without an openid").into()),
            (errcode, ..) => {
                tracing::warn!(wechat.errcode = errcode, "WeChat refused jscode2session");
                Err(WechatError::Refused { errcode })
            }
        }
    }
}

/// A subscribe message to one user.
#[derive(Debug, Clone)]
pub struct SubscribeMessage<'a> {
    pub openid: &'a str,
    pub template_id: &'a str,
    pub page: Option<&'a str>,
    /// The template's fields: `{"thing1": {"value": "…"}, …}`.
    pub data: &'a serde_json::Value,
}

/// Why a subscribe message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// errcode 43101: the user has not subscribed, or has refused. Final for
    /// this message.
    #[error("the user refused the subscribe message (errcode 43101)")]
    UserRefused,
    /// errcode 47003 (a field's value breaks its type's rules) or 40037 (no
    /// such template): the tenant's template setting is wrong. Final.
    #[error("WeChat refused the message's template or fields (errcode {errcode})")]
    Misconfigured { errcode: i64 },
    /// WeChat was busy, unreachable, or answered another errcode: worth
    /// retrying later.
    #[error("WeChat did not take the message (errcode {errcode:?})")]
    Unavailable { errcode: Option<i64> },
}

impl SendError {
    /// The errcode WeChat answered, for metrics and records.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            SendError::UserRefused => Some(43101),
            SendError::Misconfigured { errcode } => Some(*errcode),
            SendError::Unavailable { errcode } => *errcode,
        }
    }
}

#[derive(Deserialize)]
struct ErrcodeReply {
    #[serde(default)]
    errcode: i64,
}

#[derive(Deserialize)]
struct StableTokenReply {
    access_token: Option<String>,
    expires_in: Option<u64>,
    #[serde(default)]
    errcode: i64,
}

impl WechatClient {
    /// Sends one subscribe message. An expired or invalid token (40001,
    /// 42001) leads to one refresh and one more try.
    #[tracing::instrument(name = "wechat subscribe send", skip_all)]
    pub async fn send_subscribe_message(
        &self,
        message: &SubscribeMessage<'_>,
    ) -> Result<(), SendError> {
        let token = self.access_token(None).await?;
        match self.post_message(&token, message).await? {
            0 => return Ok(()),
            40001 | 42001 => {}
            errcode => return Err(classify_send(errcode)),
        }
        let fresh = self.access_token(Some(&token)).await?;
        match self.post_message(&fresh, message).await? {
            0 => Ok(()),
            errcode => Err(classify_send(errcode)),
        }
    }

    async fn post_message(
        &self,
        token: &SecretString,
        message: &SubscribeMessage<'_>,
    ) -> Result<i64, SendError> {
        let url = format!("{}/cgi-bin/message/subscribe/send", self.api_base);
        let mut body = serde_json::json!({
            "touser": message.openid,
            "template_id": message.template_id,
            "data": message.data,
            "lang": "zh_CN",
        });
        if let Some(page) = message.page {
            body["page"] = serde_json::Value::from(page);
        }
        let reply: ErrcodeReply = self
            .http
            .post(url)
            .query(&[("access_token", token.expose_secret())])
            .json(&body)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| unavailable(&e))?
            .json()
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(reply.errcode)
    }

    /// The cached token, or a new one. With `rejected`, the caller saw that
    /// token refused: it is replaced unless another caller already has.
    async fn access_token(
        &self,
        rejected: Option<&SecretString>,
    ) -> Result<SecretString, SendError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref() {
            let is_rejected =
                rejected.is_some_and(|r| r.expose_secret() == token.value.expose_secret());
            if !is_rejected && Instant::now() < token.use_until {
                return Ok(token.value.clone());
            }
        }
        let fresh = self.fetch_stable_token(rejected.is_some()).await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    async fn fetch_stable_token(&self, force_refresh: bool) -> Result<AccessToken, SendError> {
        let url = format!("{}/cgi-bin/stable_token", self.api_base);
        let body = serde_json::json!({
            "grant_type": "client_credential",
            "appid": self.appid,
            "secret": self.secret.expose_secret(),
            "force_refresh": force_refresh,
        });
        let reply: StableTokenReply = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| unavailable(&e))?
            .json()
            .await
            .map_err(|e| unavailable(&e))?;
        match (reply.errcode, reply.access_token) {
            (0, Some(token)) => {
                let lifetime = Duration::from_secs(reply.expires_in.unwrap_or(7200));
                tracing::info!(force_refresh, "WeChat access token obtained");
                Ok(AccessToken {
                    value: SecretString::from(token),
                    use_until: Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN),
                })
            }
            (errcode @ (40013 | 40125 | 40164), _) => {
                tracing::error!(
                    wechat.errcode = errcode,
                    "WeChat refused the app credentials"
                );
                Err(SendError::Misconfigured { errcode })
            }
            (errcode, _) => Err(SendError::Unavailable {
                errcode: Some(errcode),
            }),
        }
    }
}

fn classify_send(errcode: i64) -> SendError {
    match errcode {
        43101 => SendError::UserRefused,
        47003 | 40037 => SendError::Misconfigured { errcode },
        _ => SendError::Unavailable {
            errcode: Some(errcode),
        },
    }
}

fn unavailable(error: &reqwest::Error) -> SendError {
    // The error's URL may carry the access token in its query: log without it.
    tracing::warn!(
        error.timeout = error.is_timeout(),
        error.status = error.status().map(|s| s.as_u16()),
        "WeChat could not be reached"
    );
    SendError::Unavailable { errcode: None }
}

fn unreachable_wechat(error: &reqwest::Error) -> WechatError {
    // The error's URL would carry the app secret in its query: log without it.
    tracing::warn!(
        error.timeout = error.is_timeout(),
        error.status = error.status().map(|s| s.as_u16()),
        "WeChat could not be reached"
    );
    WechatError::Unavailable {
        retry_after_secs: BUSY_RETRY_AFTER_SECS,
    }
}
