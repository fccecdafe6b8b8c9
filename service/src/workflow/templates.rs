//! The ready workflows a new tenant starts with, modelled on how companies
//! that sell and fit appliances actually run their work: pre-sale
//! enquiries, installation, repairs and routine maintenance. A tenant may
//! publish them as they are or use them as a start for its own.

use serde_json::{Value, json};

/// Ready templates a new tenant starts with, as JSON values in the
/// contract's format. Each one parses when every template key is known,
/// since signing a pre-sale contract starts an `install` order.
pub fn templates() -> Vec<Value> {
    vec![presale(), install(), repair(), maintenance()]
}

/// From first enquiry to a signed contract, which starts an installation.
fn presale() -> Value {
    json!({
        "key": "presale", "name": "售前咨询", "business_type": "presale",
        "nodes": [
            {"key": "enquiry", "name": "新咨询", "phase": "pre_sale", "kind": "start"},
            {"key": "follow_up", "name": "跟进中", "phase": "pre_sale", "due_in_minutes": 1440},
            {"key": "quote", "name": "已报价", "phase": "pre_sale",
             "on_enter": [{"notify": "customer"}]},
            {"key": "contract", "name": "待签约", "phase": "pre_sale", "due_in_minutes": 10080},
            {"key": "signed", "name": "已签约", "phase": "in_sale", "kind": "end",
             "on_enter": [{"spawn": {"workflow": "install"}}, {"notify": "dispatcher"}]},
            {"key": "lost", "name": "已流失", "phase": "pre_sale", "kind": "end"}
        ],
        "transitions": [
            {"from": "enquiry", "to": "follow_up", "action": "follow_up", "name": "开始跟进",
             "roles": ["dispatcher", "admin"]},
            {"from": "follow_up", "to": "quote", "action": "quote", "name": "报价",
             "roles": ["dispatcher", "admin"]},
            {"from": "quote", "to": "follow_up", "action": "revise", "name": "重新报价",
             "roles": ["dispatcher", "admin"]},
            {"from": "quote", "to": "contract", "action": "draft_contract", "name": "拟定合同",
             "roles": ["dispatcher", "admin"]},
            {"from": "contract", "to": "signed", "action": "sign", "name": "签约",
             "roles": ["dispatcher", "admin"]},
            {"from": "enquiry", "to": "lost", "action": "lose", "name": "流失",
             "roles": ["dispatcher", "admin"]},
            {"from": "follow_up", "to": "lost", "action": "lose", "name": "流失",
             "roles": ["dispatcher", "admin"]},
            {"from": "quote", "to": "lost", "action": "lose", "name": "流失",
             "roles": ["dispatcher", "admin"]},
            {"from": "contract", "to": "lost", "action": "lose", "name": "流失",
             "roles": ["dispatcher", "admin"]}
        ]
    })
}

/// Dispatch, acceptance (which locks the quote), the visit, completion
/// (which settles the earnings) and the return visit.
fn install() -> Value {
    json!({
        "key": "install", "name": "安装", "business_type": "install",
        "nodes": [
            {"key": "new", "name": "待派单", "phase": "in_sale", "kind": "start"},
            {"key": "assigned", "name": "待接单", "phase": "in_sale", "due_in_minutes": 120,
             "on_enter": [{"notify": "installer"}]},
            {"key": "accepted", "name": "待上门", "phase": "in_sale", "due_in_minutes": 1440,
             "on_enter": [{"lock_quote": {}}]},
            {"key": "on_site", "name": "施工中", "phase": "in_sale"},
            {"key": "completed", "name": "已完工", "phase": "in_sale", "due_in_minutes": 4320,
             "on_enter": [{"settle": {}}, {"notify": "installer"}, {"notify": "customer"}]},
            {"key": "closed", "name": "已回访", "phase": "after_sale", "kind": "end"}
        ],
        "transitions": [
            {"from": "new", "to": "assigned", "action": "assign", "name": "派单",
             "roles": ["dispatcher", "admin"]},
            {"from": "assigned", "to": "accepted", "action": "accept", "name": "接单",
             "roles": ["installer"]},
            {"from": "assigned", "to": "new", "action": "reject", "name": "拒单",
             "roles": ["installer"]},
            {"from": "assigned", "to": "assigned", "action": "reassign", "name": "改派",
             "roles": ["dispatcher", "admin"]},
            {"from": "accepted", "to": "on_site", "action": "arrive", "name": "上门签到",
             "roles": ["installer"]},
            {"from": "on_site", "to": "completed", "action": "complete", "name": "完工",
             "roles": ["installer"]},
            {"from": "completed", "to": "closed", "action": "review", "name": "回访",
             "roles": ["dispatcher", "customer"]}
        ]
    })
}

/// A repair: diagnosis locks the quote, and a costly repair waits for a
/// dispatcher's or admin's approval before work starts.
fn repair() -> Value {
    json!({
        "key": "repair", "name": "维修", "business_type": "repair",
        "nodes": [
            {"key": "requested", "name": "待派单", "phase": "after_sale", "kind": "start"},
            {"key": "dispatched", "name": "待检测", "phase": "after_sale", "due_in_minutes": 1440,
             "on_enter": [{"notify": "installer"}]},
            {"key": "diagnosed", "name": "已检测", "phase": "after_sale",
             "on_enter": [{"lock_quote": {}}]},
            {"key": "approval", "name": "待审批", "phase": "after_sale", "kind": "approval",
             "due_in_minutes": 480, "on_enter": [{"notify": "dispatcher"}]},
            {"key": "repairing", "name": "维修中", "phase": "after_sale"},
            {"key": "repaired", "name": "已修复", "phase": "after_sale",
             "on_enter": [{"settle": {}}, {"notify": "customer"}]},
            {"key": "confirmed", "name": "已确认", "phase": "after_sale", "kind": "end"},
            {"key": "cancelled", "name": "已取消", "phase": "after_sale", "kind": "end",
             "on_enter": [{"notify": "customer"}]}
        ],
        "transitions": [
            {"from": "requested", "to": "dispatched", "action": "dispatch", "name": "派单",
             "roles": ["dispatcher", "admin"]},
            {"from": "dispatched", "to": "diagnosed", "action": "diagnose", "name": "检测",
             "roles": ["installer"]},
            {"from": "diagnosed", "to": "approval", "action": "request_approval",
             "name": "提交审批", "roles": ["installer"]},
            {"from": "diagnosed", "to": "repairing", "action": "repair_directly",
             "name": "直接维修", "roles": ["installer"]},
            {"from": "approval", "to": "repairing", "action": "approve", "name": "批准",
             "roles": ["dispatcher", "admin"]},
            {"from": "approval", "to": "cancelled", "action": "reject", "name": "驳回",
             "roles": ["dispatcher", "admin"]},
            {"from": "repairing", "to": "repaired", "action": "finish", "name": "维修完成",
             "roles": ["installer"]},
            {"from": "repaired", "to": "confirmed", "action": "confirm", "name": "确认",
             "roles": ["customer", "dispatcher"]}
        ]
    })
}

/// Routine upkeep booked ahead, such as a yearly air-conditioner clean.
fn maintenance() -> Value {
    json!({
        "key": "maintenance", "name": "保养", "business_type": "maintenance",
        "nodes": [
            {"key": "scheduled", "name": "待派单", "phase": "after_sale", "kind": "start"},
            {"key": "assigned", "name": "待接单", "phase": "after_sale", "due_in_minutes": 240,
             "on_enter": [{"notify": "installer"}]},
            {"key": "accepted", "name": "待保养", "phase": "after_sale", "due_in_minutes": 2880,
             "on_enter": [{"lock_quote": {}}, {"notify": "customer"}]},
            {"key": "done", "name": "已保养", "phase": "after_sale",
             "on_enter": [{"settle": {}}, {"notify": "customer"}]},
            {"key": "closed", "name": "已回访", "phase": "after_sale", "kind": "end"}
        ],
        "transitions": [
            {"from": "scheduled", "to": "assigned", "action": "assign", "name": "派单",
             "roles": ["dispatcher", "admin"]},
            {"from": "assigned", "to": "accepted", "action": "accept", "name": "接单",
             "roles": ["installer"]},
            {"from": "assigned", "to": "scheduled", "action": "reject", "name": "拒单",
             "roles": ["installer"]},
            {"from": "accepted", "to": "done", "action": "finish", "name": "保养完成",
             "roles": ["installer"]},
            {"from": "done", "to": "closed", "action": "review", "name": "回访",
             "roles": ["dispatcher", "customer"]}
        ]
    })
}
