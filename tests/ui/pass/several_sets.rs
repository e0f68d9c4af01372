use outrigger::{CallbackSet, Declarations};

struct Users;
struct Files;

mod inner {
    pub struct Kv;

    #[outrigger::callbacks(namespace = "kv")]
    impl Kv {
        async fn get(&self, key: String) -> Option<String> {
            Some(key)
        }
    }
}

#[outrigger::callbacks]
impl Users {
    async fn get(&self, id: u64) -> u64 {
        id
    }
}

#[outrigger::callbacks(namespace = "files")]
impl Files {
    async fn get(&self, path: String) -> String {
        path
    }
}

fn main() {
    let typescript = Declarations::new()
        .with::<Users>()
        .with::<Files>()
        .with::<inner::Kv>()
        .typescript()
        .unwrap();
    assert!(
        typescript.contains("get(params: GetParams): Promise<number>;"),
        "{typescript}"
    );
    assert!(
        typescript.contains("get(params: FilesGetParams): Promise<string>;"),
        "{typescript}"
    );
    assert!(
        typescript.contains("get(params: KvGetParams): Promise<string | null>;"),
        "{typescript}"
    );
    assert_eq!(Users::declarations().len() + Files::declarations().len(), 2);
    let _ = outrigger::Pool::builder()
        .callbacks(Users)
        .callbacks(Files)
        .callbacks(inner::Kv);
}
