use super::*;

/// One broken definition: the contract's example with one change, and the
/// problems it must answer, each as a field and a part of its message.
struct Case {
    rule: &'static str,
    break_it: fn(&mut Value),
    expected: &'static [(&'static str, &'static str)],
}

fn push(json: &mut Value, list: &str, item: Value) {
    if let Some(items) = json[list].as_array_mut() {
        items.push(item);
    }
}

const CASES: &[Case] = &[
    Case {
        rule: "no start node",
        break_it: |json| json["nodes"][0]["kind"] = json!("task"),
        expected: &[("nodes", "one node of kind `start`")],
    },
    Case {
        rule: "two start nodes",
        break_it: |json| json["nodes"][1]["kind"] = json!("start"),
        expected: &[("nodes[1].kind", "`assigned` is a second start node")],
    },
    Case {
        rule: "no end node",
        break_it: |json| json["nodes"][4]["kind"] = json!("task"),
        expected: &[("nodes", "at least one node of kind `end`")],
    },
    Case {
        rule: "a duplicate node key",
        break_it: |json| {
            let copy = json!({"key": "accepted", "name": "重复", "phase": "in_sale"});
            push(json, "nodes", copy);
        },
        expected: &[("nodes[5].key", "`accepted` is taken by nodes[2]")],
    },
    Case {
        rule: "a duplicate action at a node",
        break_it: |json| {
            let again = json!({"from": "new", "to": "closed", "action": "assign",
                               "roles": ["admin"]});
            push(json, "transitions", again);
        },
        expected: &[(
            "transitions[4].action",
            "`assign` already leaves node `new`",
        )],
    },
    Case {
        rule: "an unknown from",
        break_it: |json| {
            let stray = json!({"from": "nowhere", "to": "closed", "action": "skip",
                               "roles": ["admin"]});
            push(json, "transitions", stray);
        },
        expected: &[("transitions[4].from", "`nowhere` is not a node")],
    },
    Case {
        rule: "an unknown to",
        break_it: |json| {
            let stray = json!({"from": "completed", "to": "gone", "action": "skip",
                               "roles": ["admin"]});
            push(json, "transitions", stray);
        },
        expected: &[("transitions[4].to", "`gone` is not a node")],
    },
    Case {
        rule: "an unreachable node",
        break_it: |json| {
            let orphan = json!({"key": "orphan", "name": "孤立", "phase": "in_sale",
                                "kind": "end"});
            push(json, "nodes", orphan);
        },
        expected: &[(
            "nodes[5]",
            "`orphan` cannot be reached from the start `new`",
        )],
    },
    Case {
        rule: "a node that cannot reach an end",
        break_it: |json| {
            let limbo = json!({"key": "limbo", "name": "搁置", "phase": "in_sale"});
            push(json, "nodes", limbo);
            let park = json!({"from": "accepted", "to": "limbo", "action": "park",
                              "roles": ["dispatcher"]});
            push(json, "transitions", park);
        },
        expected: &[("nodes[5]", "no end node can be reached from node `limbo`")],
    },
    Case {
        rule: "an end with an outgoing transition",
        break_it: |json| {
            let reopen = json!({"from": "closed", "to": "completed", "action": "reopen",
                                "roles": ["admin"]});
            push(json, "transitions", reopen);
        },
        expected: &[("transitions[4].from", "`closed` is an end node")],
    },
    Case {
        rule: "an unknown role",
        break_it: |json| json["transitions"][0]["roles"] = json!(["dispatcher", "boss"]),
        expected: &[(
            "transitions[0].roles[1]",
            "must be one of admin, dispatcher",
        )],
    },
    Case {
        rule: "an empty role list",
        break_it: |json| json["transitions"][1]["roles"] = json!([]),
        expected: &[("transitions[1].roles", "at least one role")],
    },
    Case {
        rule: "a role listed twice",
        break_it: |json| json["transitions"][1]["roles"] = json!(["installer", "installer"]),
        expected: &[("transitions[1].roles[1]", "lists `installer` a second time")],
    },
    Case {
        rule: "an unknown node action",
        break_it: |json| json["nodes"][2]["on_enter"] = json!([{"explode": {}}]),
        expected: &[("nodes[2].on_enter[0]", "`explode` is not a known action")],
    },
    Case {
        rule: "a bad notify target",
        break_it: |json| json["nodes"][1]["on_enter"][0] = json!({"notify": "everyone"}),
        expected: &[(
            "nodes[1].on_enter[0].notify",
            "installer, customer, dispatcher",
        )],
    },
    Case {
        rule: "a lock_quote with settings",
        break_it: |json| json["nodes"][2]["on_enter"][0] = json!({"lock_quote": {"at": 1}}),
        expected: &[(
            "nodes[2].on_enter[0].lock_quote",
            "`lock_quote` takes no settings",
        )],
    },
    Case {
        rule: "an on_enter entry with two keys",
        break_it: |json| json["nodes"][3]["on_enter"][0] = json!({"settle": {}, "notify": "x"}),
        expected: &[("nodes[3].on_enter[0]", "one key, the action")],
    },
    Case {
        rule: "a spawn of an unknown workflow",
        break_it: |json| json["nodes"][3]["on_enter"][1] = json!({"spawn": {"workflow": "nope"}}),
        expected: &[(
            "nodes[3].on_enter[1].spawn.workflow",
            "`nope`, which is not a workflow",
        )],
    },
    Case {
        rule: "a spawn with a bad key",
        break_it: |json| json["nodes"][3]["on_enter"][1] = json!({"spawn": {"workflow": "A B"}}),
        expected: &[("nodes[3].on_enter[1].spawn.workflow", "1 to 64 characters")],
    },
    Case {
        rule: "an approval node without a reject",
        break_it: |json| {
            json["nodes"][2]["kind"] = json!("approval");
            json["transitions"][2]["action"] = json!("approve");
        },
        expected: &[(
            "nodes[2]",
            "approval node `accepted` needs a transition with action `reject`",
        )],
    },
    Case {
        rule: "an approval node with neither decision",
        break_it: |json| json["nodes"][2]["kind"] = json!("approval"),
        expected: &[
            ("nodes[2]", "action `approve`"),
            ("nodes[2]", "action `reject`"),
        ],
    },
    Case {
        rule: "a zero due_in_minutes",
        break_it: |json| json["nodes"][2]["due_in_minutes"] = json!(0),
        expected: &[("nodes[2].due_in_minutes", "from 1 to 525600")],
    },
    Case {
        rule: "a due_in_minutes over a year",
        break_it: |json| json["nodes"][2]["due_in_minutes"] = json!(525_601),
        expected: &[("nodes[2].due_in_minutes", "from 1 to 525600")],
    },
    Case {
        rule: "a fractional due_in_minutes",
        break_it: |json| json["nodes"][2]["due_in_minutes"] = json!(1.5),
        expected: &[("nodes[2].due_in_minutes", "whole number")],
    },
    Case {
        rule: "an unknown field",
        break_it: |json| json["nodes"][0]["colour"] = json!("red"),
        expected: &[("nodes[0].colour", "is not a known field")],
    },
    Case {
        rule: "a missing field",
        break_it: |json| json["transitions"][3] = json!({"from": "completed", "to": "closed"}),
        expected: &[
            ("transitions[3].action", "is required"),
            ("transitions[3].roles", "is required"),
        ],
    },
    Case {
        rule: "a field of the wrong type",
        break_it: |json| json["nodes"][1]["name"] = json!(7),
        expected: &[("nodes[1].name", "must be a string")],
    },
    Case {
        rule: "a list that is not an array",
        break_it: |json| json["transitions"] = json!({}),
        expected: &[("transitions", "must be an array")],
    },
    Case {
        rule: "a bad node key",
        break_it: |json| {
            json["nodes"][4]["key"] = json!("Closed!");
            json["transitions"][3]["to"] = json!("Closed!");
        },
        expected: &[(
            "nodes[4].key",
            "1 to 64 characters of a-z, 0-9, '_' and '-'",
        )],
    },
    Case {
        rule: "a bad action key",
        break_it: |json| json["transitions"][0]["action"] = json!("as-sign"),
        expected: &[(
            "transitions[0].action",
            "1 to 64 characters of a-z, 0-9 and '_'",
        )],
    },
    Case {
        rule: "an unknown phase and kind",
        break_it: |json| {
            json["nodes"][1]["phase"] = json!("mid_sale");
            json["nodes"][1]["kind"] = json!("step");
        },
        expected: &[
            ("nodes[1].phase", "pre_sale, in_sale, after_sale"),
            ("nodes[1].kind", "start, task, approval, end"),
        ],
    },
    Case {
        rule: "a blank name",
        break_it: |json| json["name"] = json!("   "),
        expected: &[("name", "1 to 100 characters")],
    },
];

#[test]
fn each_broken_rule_is_answered_with_its_field_and_the_offending_name() {
    for case in CASES {
        let mut json = contract_example();
        (case.break_it)(&mut json);

        let problems = parse(&json).expect_err(case.rule);

        let found: Vec<(&str, &str)> = problems
            .iter()
            .map(|problem| (problem.field.as_str(), problem.message.as_str()))
            .collect();
        assert_eq!(
            found.len(),
            case.expected.len(),
            "{}: {found:#?}",
            case.rule
        );
        for (field, part) in case.expected {
            let matched = found
                .iter()
                .any(|(f, message)| f == field && message.contains(part));
            assert!(
                matched,
                "{}: expected {field} ~ {part}, got {found:#?}",
                case.rule
            );
        }
    }
}

#[test]
fn a_definition_with_three_problems_answers_all_three() {
    let mut json = contract_example();
    json["transitions"][1]["roles"] = json!(["installer", "plumber"]);
    json["nodes"][2]["due_in_minutes"] = json!(-5);
    push(
        &mut json,
        "nodes",
        json!({"key": "orphan", "name": "孤立", "phase": "in_sale", "kind": "end"}),
    );

    let problems = parse(&json).expect_err("three problems");

    let fields: Vec<&str> = problems
        .iter()
        .map(|problem| problem.field.as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "nodes[2].due_in_minutes",
            "transitions[1].roles[1]",
            "nodes[5]"
        ]
    );
}

#[test]
fn a_document_that_is_not_an_object_is_refused_at_its_root() {
    let problems = parse(&json!([1, 2])).expect_err("not an object");

    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].field, ".");
    assert_eq!(problems[0].message, "must be an object");
}

#[test]
fn every_shape_problem_in_the_document_is_named_in_one_answer() {
    let json = json!({
        "key": "k", "name": 3, "business_type": "b", "extra": true,
        "nodes": [{"key": "a", "phase": "in_sale"}, "node"],
        "transitions": [{"from": "a", "to": "a", "action": "x", "roles": [1]}]
    });

    let problems = parse(&json).expect_err("shape problems");

    let fields: Vec<&str> = problems
        .iter()
        .map(|problem| problem.field.as_str())
        .collect();
    let expected = [
        "extra",
        "name",
        "nodes[0].name",
        "nodes[1]",
        "transitions[0].roles[0]",
    ];
    assert_eq!(fields, expected);
}

#[test]
fn null_counts_as_an_absent_optional_field() {
    let mut json = contract_example();
    json["nodes"][1]["kind"] = Value::Null;
    json["nodes"][1]["due_in_minutes"] = Value::Null;

    let definition = parse_ok(&json);

    assert_eq!(definition.nodes()[1].kind, NodeKind::Task);
    assert_eq!(definition.nodes()[1].due_in_minutes, None);
}

#[test]
fn due_in_minutes_accepts_exactly_one_minute_to_one_year() {
    for (minutes, valid) in [(1, true), (525_600, true), (0, false), (525_601, false)] {
        let mut json = contract_example();
        json["nodes"][2]["due_in_minutes"] = json!(minutes);

        assert_eq!(parse(&json).is_ok(), valid, "{minutes} minutes");
    }
}
