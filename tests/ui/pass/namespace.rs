use std::sync::Arc;

use outrigger::CallbackSet;

struct Kv;

#[outrigger::callbacks(namespace = "kv")]
impl Kv {
    async fn get(&self, key: String) -> Option<String> {
        Some(key)
    }

    async fn set_value(&self, key: String, value: String) {
        let _ = (key, value);
    }
}

fn main() {
    let decls = Kv::declarations();
    assert_eq!(decls[1].js_name, "setValue");
    assert!(decls.iter().all(|d| d.namespace.as_deref() == Some("kv")));
    let names: Vec<_> = Arc::new(Kv)
        .handlers()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, ["kv.get", "kv.setValue"]);
    let typescript = outrigger::Declarations::new()
        .with::<Kv>()
        .typescript()
        .unwrap();
    assert!(typescript.contains("kv: {"), "{typescript}");
    assert!(
        typescript.contains("setValue(params: KvSetValueParams): Promise<null>;"),
        "{typescript}"
    );
}
