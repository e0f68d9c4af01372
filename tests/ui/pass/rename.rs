use std::sync::Arc;

use outrigger::CallbackSet;

struct Tools;

#[outrigger::callbacks(namespace = "$db")]
impl Tools {
    #[outrigger(rename = "findAll")]
    async fn list(&self) -> Vec<u32> {
        vec![1, 2]
    }

    /// Attributes can be split, and sit among other attributes.
    #[outrigger()]
    #[allow(clippy::unused_async)]
    #[outrigger(rename = "_raw$")]
    async fn r#type(&self, r#type: String) -> String {
        r#type
    }

    /// A raw identifier loses its `r#`.
    async fn r#match(&self, r#for: u8) -> u8 {
        r#for
    }
}

fn main() {
    let names: Vec<_> = Arc::new(Tools)
        .handlers()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, ["$db.findAll", "$db._raw$", "$db.match"]);
    let decls = Tools::declarations();
    assert_eq!(decls[1].params["required"][0], "type");
    assert_eq!(decls[2].params["required"][0], "for");
}
