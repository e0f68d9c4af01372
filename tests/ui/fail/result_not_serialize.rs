#[derive(schemars::JsonSchema)]
struct Report {
    total: u64,
}

#[derive(serde::Serialize)]
struct Summary {
    total: u64,
}

struct Tools;

#[outrigger::callbacks]
impl Tools {
    async fn report(&self) -> Report {
        Report { total: 1 }
    }

    async fn summary(&self) -> Result<Summary, String> {
        Ok(Summary { total: 1 })
    }
}

fn main() {}
