struct Tools;

#[outrigger::callbacks]
impl Tools {
    async fn show(&self, value: impl std::fmt::Display) -> String {
        value.to_string()
    }

    async fn nested(&self, values: Vec<impl Into<String>>) -> usize {
        values.len()
    }
}

fn main() {}
