//! The OpenAPI document's request fields whose values the active playbook
//! decides (personas, channels, rejection reasons, pipeline stages): the
//! document served lists them, so that a client's schema matches what the
//! server accepts today.

use smarketing_core::Playbook;
use utoipa::openapi::schema::{KnownFormat, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr};

/// Which playbook list a request field takes its values from.
#[derive(Clone, Copy)]
enum List {
    Personas,
    Channels,
    RejectionReasons,
    PipelineStages,
}

/// (request schema, field, the list its values come from).
const FIELDS: &[(&str, &str, List)] = &[
    ("ContactInput", "persona", List::Personas),
    ("ContactInput", "source_channel", List::Channels),
    ("ContactPatch", "persona", List::Personas),
    ("StageMoveInput", "reason", List::RejectionReasons),
    ("RejectInput", "reason", List::RejectionReasons),
    ("CampaignInput", "channel", List::Channels),
    ("CampaignPatch", "channel", List::Channels),
    ("DealInput", "pipeline_stage", List::PipelineStages),
    ("DealPatch", "pipeline_stage", List::PipelineStages),
    ("TouchpointInput", "channel", List::Channels),
];

/// Request fields that hold an e-mail address.
const EMAILS: &[(&str, &str)] = &[
    ("ContactInput", "email"),
    ("ContactPatch", "email"),
    ("TouchpointInput", "email"),
    ("UserInput", "email"),
];

/// Marks the e-mail fields of request schemas as `format: email`.
pub fn mark_emails(doc: &mut OpenApi) {
    for (schema, field) in EMAILS {
        if let Some(property) = property(doc, schema, field) {
            property.format = Some(SchemaFormat::KnownFormat(KnownFormat::Email));
        }
    }
}

/// `doc` with each playbook-valued request field limited to the values of
/// `playbook`. Responses are left open: they may hold values an earlier
/// playbook version had.
pub fn with_playbook_values(doc: &OpenApi, playbook: &Playbook) -> OpenApi {
    let mut doc = doc.clone();
    for (schema, field, list) in FIELDS {
        let values: Vec<String> = match list {
            List::Personas => playbook.personas.iter().map(|p| p.id.clone()).collect(),
            List::Channels => playbook.channels.iter().map(|c| c.id.clone()).collect(),
            List::RejectionReasons => playbook
                .rejection_reasons
                .iter()
                .map(|r| r.code.clone())
                .collect(),
            List::PipelineStages => playbook.pipeline_stages.clone(),
        };
        if let Some(property) = property(&mut doc, schema, field) {
            let nullable = matches!(&property.schema_type, SchemaType::Array(types) if types.contains(&Type::Null));
            let mut allowed: Vec<serde_json::Value> =
                values.into_iter().map(serde_json::Value::String).collect();
            if nullable {
                allowed.push(serde_json::Value::Null);
            }
            property.enum_values = Some(allowed);
        }
    }
    doc
}

/// The object schema of `field` in the component schema `schema`.
fn property<'a>(
    doc: &'a mut OpenApi,
    schema: &str,
    field: &str,
) -> Option<&'a mut utoipa::openapi::schema::Object> {
    let components = doc.components.as_mut()?;
    let RefOr::T(Schema::Object(object)) = components.schemas.get_mut(schema)? else {
        return None;
    };
    match object.properties.get_mut(field)? {
        RefOr::T(Schema::Object(property)) => Some(property),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field named above is in the document, so a renamed schema or
    /// field cannot quietly leave the document open again.
    #[test]
    fn every_listed_field_is_in_the_document_and_gets_the_playbook_values() {
        let mut doc = crate::openapi_document();
        for (schema, field, _) in FIELDS {
            assert!(
                property(&mut doc, schema, field).is_some(),
                "{schema}.{field}"
            );
        }
        for (schema, field) in EMAILS {
            let p = property(&mut doc, schema, field).expect("an e-mail field");
            assert!(p.format.is_some(), "{schema}.{field}");
        }
        let playbook = Playbook::default_playbook();
        let mut served = with_playbook_values(&doc, &playbook);
        let persona = property(&mut served, "ContactPatch", "persona").unwrap();
        let values = persona.enum_values.clone().unwrap();
        assert!(values.contains(&serde_json::Value::Null), "{values:?}");
        assert_eq!(values.len(), playbook.personas.len() + 1, "{values:?}");
        let reason = property(&mut served, "RejectInput", "reason").unwrap();
        let codes = reason.enum_values.clone().unwrap();
        // The field may be null: the server then says a reason is required.
        assert_eq!(codes.len(), playbook.rejection_reasons.len() + 1);
        assert!(codes.iter().all(|c| {
            c.is_null()
                || c.as_str()
                    .is_some_and(|c| playbook.rejection_reason(c).is_some())
        }));
    }
}
