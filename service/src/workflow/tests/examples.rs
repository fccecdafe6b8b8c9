use crate::domain::Role;

use super::*;

#[test]
fn the_contracts_example_parses_with_defaults_filled_in() {
    let definition = parse_ok(&contract_example());

    assert_eq!(definition.key(), "install");
    assert_eq!(definition.name(), "安装");
    assert_eq!(definition.business_type(), "install");
    assert_eq!(definition.start().key, "new");
    assert_eq!(definition.nodes().len(), 5);
    let accepted = definition.node("accepted").expect("the node exists");
    assert_eq!(accepted.kind, NodeKind::Task);
    assert_eq!(accepted.phase, Phase::InSale);
    assert_eq!(accepted.on_enter, vec![NodeAction::LockQuote]);
    assert_eq!(accepted.due_in_minutes, Some(1440));
    let review = definition
        .transition("completed", "review")
        .expect("the move exists");
    assert_eq!(review.name, "review");
    assert_eq!(review.roles, vec![Role::Dispatcher, Role::Customer]);
}

#[test]
fn every_template_parses_when_every_template_key_is_known() {
    let keys: Vec<String> = templates()
        .iter()
        .map(|template| parse_ok(template).key().to_owned())
        .collect();

    assert_eq!(keys, ["presale", "install", "repair", "maintenance"]);
}

#[test]
fn the_presale_template_needs_the_install_workflow_to_exist() {
    let presale = &templates()[0];

    let problems = WorkflowDefinition::parse(presale, &|key| key == "presale")
        .expect_err("install is unknown");

    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].field, "nodes[4].on_enter[0].spawn.workflow");
    assert!(problems[0].message.contains("install"));
}

#[test]
fn signing_a_presale_contract_spawns_an_install_order() {
    let presale = parse_ok(&templates()[0]);

    let sign = presale.transition("contract", "sign").expect("sign exists");
    let signed = presale.node(&sign.to).expect("the target exists");

    let spawn = NodeAction::Spawn {
        workflow: "install".to_owned(),
    };
    assert!(signed.on_enter.contains(&spawn));
}

#[test]
fn every_template_survives_a_trip_through_to_json() {
    for template in templates() {
        let definition = parse_ok(&template);

        assert_eq!(parse_ok(&definition.to_json()), definition);
    }
}

#[test]
fn serialising_a_definition_gives_its_contract_json() {
    let definition = parse_ok(&contract_example());

    let serialised = serde_json::to_value(&definition).expect("serialises");

    assert_eq!(serialised, definition.to_json());
    assert_eq!(
        serialised["nodes"][2]["on_enter"],
        json!([{"lock_quote": {}}])
    );
    assert_eq!(serialised["nodes"][1]["kind"], json!("task"));
    assert_eq!(serialised["transitions"][0]["name"], json!("assign"));
}

#[test]
fn open_actions_are_those_of_the_role_at_the_node_in_definition_order() {
    let install = parse_ok(&templates()[1]);

    let actions = |node: &str, role: Role| -> Vec<String> {
        let open = install.open_actions(node, role);
        open.iter()
            .map(|transition| transition.action.clone())
            .collect()
    };

    assert_eq!(actions("assigned", Role::Installer), ["accept", "reject"]);
    assert_eq!(actions("assigned", Role::Dispatcher), ["reassign"]);
    assert!(actions("assigned", Role::Customer).is_empty());
    assert!(actions("closed", Role::Admin).is_empty());
    assert!(actions("no_such_node", Role::Admin).is_empty());
}

#[test]
fn a_transition_is_found_by_node_and_action_whoever_may_take_it() {
    let install = parse_ok(&templates()[1]);

    let reassign = install.transition("assigned", "reassign").expect("exists");

    assert_eq!(reassign.to, "assigned");
    assert!(install.transition("new", "accept").is_none());
}

#[test]
fn names_are_trimmed_and_a_missing_transition_name_is_the_action_key() {
    let mut json = contract_example();
    json["name"] = json!("  安装  ");
    json["transitions"][1]["name"] = json!(" 接单 ");

    let definition = parse_ok(&json);

    assert_eq!(definition.name(), "安装");
    assert_eq!(definition.transitions()[1].name, "接单");
    assert_eq!(definition.transitions()[0].name, "assign");
}

#[test]
fn a_node_may_lead_back_to_itself() {
    let install = parse_ok(&templates()[1]);

    let reassign = install.transition("assigned", "reassign").expect("exists");

    assert_eq!(reassign.from, reassign.to);
}

#[test]
fn wire_names_parse_back_to_their_values() {
    for phase in Phase::ALL {
        assert_eq!(phase.as_str().parse::<Phase>(), Ok(*phase));
    }
    for kind in NodeKind::ALL {
        assert_eq!(kind.as_str().parse::<NodeKind>(), Ok(*kind));
    }
    for target in NotifyTarget::ALL {
        assert_eq!(target.as_str().parse::<NotifyTarget>(), Ok(*target));
    }
    assert_eq!(
        serde_json::to_value(Phase::AfterSale).ok(),
        Some(json!("after_sale"))
    );
    assert!("middle".parse::<NodeKind>().is_err());
}
