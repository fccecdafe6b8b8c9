//! The WeChat API as scrm uses it: exchanging a mini-program login code for
//! the user's openid (`/sns/jscode2session`, per the WeChat mini-program
//! server API documentation).
//!
//! Every call has a connect timeout and a total timeout. The app secret and
//! the `session_key` are secrets: neither is logged, and the `session_key`
//! never leaves the server.

use std::fmt;
use std::time::Duration;

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
}

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
