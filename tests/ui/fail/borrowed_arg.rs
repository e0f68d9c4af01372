use std::borrow::Cow;

struct Tools;

#[outrigger::callbacks]
impl Tools {
    async fn greet(&self, name: &str) -> String {
        format!("hello {name}")
    }

    async fn names(&self, names: Vec<Cow<'_, str>>) -> usize {
        names.len()
    }

    // `'static` borrows nothing, so it is fine.
    async fn fine(&self, name: Cow<'static, str>) -> usize {
        name.len()
    }
}

fn main() {}
