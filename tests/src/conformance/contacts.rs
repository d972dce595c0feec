//! Contacts: a contact is found by any of its addresses, whatever their
//! case; an address belongs to at most one contact, whether given at
//! creation or added later, and a refused write names the owner and changes
//! nothing.

use std::sync::Arc;

use helpdesk::domain::{Contact, ContactId};
use helpdesk::store::{Store, StoreError};

use super::{at, email};

fn contact_with(emails: &[&str]) -> Contact {
    let mut contact = Contact::new(email(emails[0]), Some("Anna Example".to_owned()), at(0));
    contact.emails.extend(emails[1..].iter().map(|e| email(e)));
    contact.phones = vec!["+49 30 1234567".to_owned()];
    contact.organization = Some("Example GmbH".to_owned());
    contact
}

/// A stored contact reads back equal and is found by any of its addresses,
/// whatever their case.
pub async fn a_contact_is_found_by_any_of_its_addresses(store: Arc<dyn Store>) {
    let contact = contact_with(&["anna@example.com", "a.example@mail.example.org"]);
    store.create_contact(&contact).await.unwrap();

    assert_eq!(
        store.get_contact(&contact.id).await.unwrap(),
        Some(contact.clone())
    );
    for address in [
        "anna@example.com",
        "A.Example@Mail.Example.ORG",
        "  ANNA@EXAMPLE.COM ",
    ] {
        let found = store.find_contact_by_email(&email(address)).await.unwrap();
        assert_eq!(found.as_ref(), Some(&contact), "looking up {address}");
    }
    assert_eq!(
        store
            .find_contact_by_email(&email("nobody@example.com"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.get_contact(&ContactId::generate()).await.unwrap(),
        None
    );
}

/// A second contact with an address the first owns is refused, naming the
/// owner, and is not stored at all.
pub async fn an_address_cannot_belong_to_two_contacts(store: Arc<dyn Store>) {
    let anna = contact_with(&["anna@example.com"]);
    store.create_contact(&anna).await.unwrap();
    let impostor = contact_with(&["other@example.com", "Anna@Example.com"]);

    let result = store.create_contact(&impostor).await;

    match result {
        Err(StoreError::EmailTaken {
            email: taken,
            contact,
        }) => {
            assert_eq!(taken, email("anna@example.com"));
            assert_eq!(contact, anna.id);
        }
        other => panic!("expected the address to be taken, got {other:?}"),
    }
    assert_eq!(store.get_contact(&impostor.id).await.unwrap(), None);
    assert_eq!(
        store
            .find_contact_by_email(&email("other@example.com"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_contact_by_email(&email("anna@example.com"))
            .await
            .unwrap(),
        Some(anna)
    );
}

/// An address added to a contact finds it afterwards and shows in its list.
pub async fn an_added_address_finds_its_contact(store: Arc<dyn Store>) {
    let anna = contact_with(&["anna@example.com"]);
    store.create_contact(&anna).await.unwrap();

    store
        .add_contact_email(&anna.id, &email("Anna.Private@Example.net"))
        .await
        .unwrap();

    let found = store
        .find_contact_by_email(&email("anna.private@example.net"))
        .await
        .unwrap()
        .expect("the new address finds the contact");
    assert_eq!(found.id, anna.id);
    assert_eq!(
        found.emails,
        vec![email("anna@example.com"), email("anna.private@example.net")]
    );
    assert_eq!(store.get_contact(&anna.id).await.unwrap(), Some(found));
}

/// Adding an address another contact owns is refused, naming the owner,
/// and changes neither contact; adding one to a missing contact is refused
/// as not found.
pub async fn adding_an_address_another_contact_owns_is_refused(store: Arc<dyn Store>) {
    let anna = contact_with(&["anna@example.com"]);
    let boris = contact_with(&["boris@example.com"]);
    store.create_contact(&anna).await.unwrap();
    store.create_contact(&boris).await.unwrap();

    let result = store
        .add_contact_email(&boris.id, &email("anna@example.com"))
        .await;

    match result {
        Err(StoreError::EmailTaken { contact, .. }) => assert_eq!(contact, anna.id),
        other => panic!("expected the address to be taken, got {other:?}"),
    }
    assert_eq!(store.get_contact(&boris.id).await.unwrap(), Some(boris));
    assert_eq!(
        store
            .find_contact_by_email(&email("anna@example.com"))
            .await
            .unwrap(),
        Some(anna)
    );

    let missing = store
        .add_contact_email(&ContactId::generate(), &email("new@example.com"))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "got {missing:?}"
    );
    assert_eq!(
        store
            .find_contact_by_email(&email("new@example.com"))
            .await
            .unwrap(),
        None
    );
}
