use std::collections::BTreeMap;

use outrigger::CallbackSet;

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Report {
    total: u64,
}

struct Tools;

#[outrigger::callbacks]
impl Tools {
    async fn unit(&self) {}

    async fn explicit_unit(&self) -> () {}

    async fn number(&self) -> f64 {
        1.5
    }

    async fn report(&self) -> Report {
        Report { total: 1 }
    }

    async fn maybe(&self) -> Option<Report> {
        None
    }

    async fn map(&self) -> BTreeMap<String, Vec<(u8, bool)>> {
        BTreeMap::new()
    }

    async fn value(&self) -> serde_json::Value {
        serde_json::json!({ "any": "thing" })
    }

    async fn nested(&self) -> Result<Option<Report>, String> {
        Ok(None)
    }
}

fn main() {
    let decls = Tools::declarations();
    assert_eq!(decls[0].result["type"], "null");
    assert_eq!(decls[1].result["type"], "null");
    assert_eq!(decls[2].result["type"], "number");
    assert_eq!(decls[3].result["title"], "Report");
    let typescript = outrigger::Declarations::new()
        .with::<Tools>()
        .typescript()
        .unwrap();
    assert!(
        typescript.contains("maybe(params?: {}): Promise<Report | null>;"),
        "{typescript}"
    );
    assert!(
        typescript.contains("nested(params?: {}): Promise<Report | null>;"),
        "{typescript}"
    );
}
