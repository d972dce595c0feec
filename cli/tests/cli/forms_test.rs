//! `helpdesk forms test`: a saved delivery read as a form would read it,
//! nothing stored: which answer goes to which field, what no field takes,
//! and the ticket it would open or why it would be refused.

use std::path::Path;

use crate::support::{helpdesk, temp_dir, workspace};

fn typeform_delivery() -> std::path::PathBuf {
    workspace().join("shared/tests/fixtures/forms/typeform_form_response.json")
}

fn forms_test(config: &Path, form: &str) -> (Option<i32>, String) {
    let output = helpdesk()
        .args(["forms", "test", form])
        .arg(typeform_delivery())
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn a_mapping_that_names_none_of_the_answers_is_shown_refused_with_every_answer_unmatched() {
    let config = workspace().join("config/helpdesk.yaml");
    let (code, shown) = forms_test(&config, "typeform-feedback");
    assert_eq!(code, Some(1), "{shown}");
    assert!(shown.contains("would be refused (422)"), "{shown}");
    assert!(shown.contains("email: email is required"), "{shown}");
    assert!(
        shown.contains("no field takes: name, customer_email"),
        "{shown}"
    );
    assert!(
        shown.contains("also named: SMEUb7VJz92Q, Your email address"),
        "{shown}"
    );
}

#[test]
fn fields_named_by_typeform_ref_id_or_title_take_their_answers_and_the_ticket_is_shown() {
    let dir = temp_dir();
    let example = std::fs::read_to_string(workspace().join("config/helpdesk.yaml")).unwrap();
    let config = example.replace(
        "  typeform-feedback:\n    queue: SUP\n    title: Product feedback (Typeform)\n    fields:\n      email:   { type: email, required: true }\n      subject: { required: true }\n      message: { type: textarea, required: true }",
        "  typeform-feedback:\n    queue: SUP\n    title: Product feedback (Typeform)\n    fields:\n      email:   { type: email, required: true, aliases: [customer_email] }\n      subject: { required: true, aliases: [JwWggjAKtOkA] }\n      message: { type: textarea, required: true, aliases: [Order number] }",
    );
    assert_ne!(
        config, example,
        "the example's form changed; update this test"
    );
    let path = dir.join("helpdesk.yaml");
    std::fs::write(&path, config).unwrap();

    let (code, shown) = forms_test(&path, "typeform-feedback");
    assert_eq!(code, Some(0), "{shown}");
    assert!(shown.contains("-> email"), "{shown}");
    assert!(shown.contains("would open a ticket in SUP"), "{shown}");
    assert!(shown.contains("summary     Feedback: "), "{shown}");
    assert!(shown.contains("no field takes:"), "{shown}");
    assert!(!shown.contains("no field takes: name,"), "{shown}");
}
