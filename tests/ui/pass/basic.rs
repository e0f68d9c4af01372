use std::sync::Arc;

use outrigger::{CallbackError, CallbackSet, Declarations};

#[derive(Clone, serde::Serialize, schemars::JsonSchema)]
struct User {
    id: u64,
    name: String,
}

enum ToolError {
    NotFound,
}

impl From<ToolError> for CallbackError {
    fn from(_: ToolError) -> Self {
        CallbackError::new("not found").with_code(404)
    }
}

struct Tools {
    users: Vec<User>,
}

#[outrigger::callbacks]
impl Tools {
    /// Look up a user by id.
    async fn lookup_user(&self, id: u64) -> Result<User, ToolError> {
        self.users
            .iter()
            .find(|u| u.id == id)
            .cloned()
            .ok_or(ToolError::NotFound)
    }

    /// Add a user.
    async fn add_user(
        &self,
        name: String,
        tags: Vec<String>,
    ) -> std::result::Result<u64, CallbackError> {
        Ok((name.len() + tags.len()) as u64)
    }

    /// Any `Result` alias works; its error converts into a `CallbackError`.
    async fn read_file(&self, path: String) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

fn main() {
    let names: Vec<_> = Tools::declarations()
        .into_iter()
        .map(|d| d.js_name)
        .collect();
    assert_eq!(names, ["lookupUser", "addUser", "readFile"]);
    let handlers = Arc::new(Tools { users: Vec::new() }).handlers();
    assert_eq!(handlers.len(), 3);
    let typescript = Declarations::new().with::<Tools>().typescript().unwrap();
    assert!(typescript.contains("lookupUser(params: LookupUserParams): Promise<User>;"));
    assert!(typescript.contains("addUser(params: AddUserParams): Promise<number>;"));

    // The set goes to a pool as it is.
    let _ = outrigger::Pool::builder().callbacks(Tools { users: Vec::new() });
}
