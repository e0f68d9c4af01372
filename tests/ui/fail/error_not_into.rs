struct ToolError;

struct Tools;

#[outrigger::callbacks]
impl Tools {
    async fn get(&self) -> Result<u64, ToolError> {
        Err(ToolError)
    }
}

fn main() {}
