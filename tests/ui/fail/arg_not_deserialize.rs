#[derive(schemars::JsonSchema)]
struct Query {
    text: String,
}

#[derive(serde::Deserialize)]
struct Filter {
    tag: String,
}

struct Tools;

#[outrigger::callbacks]
impl Tools {
    async fn search(&self, query: Query) -> usize {
        query.text.len()
    }

    async fn filter(&self, filter: Filter) -> usize {
        filter.tag.len()
    }
}

fn main() {}
