struct Tools;

#[outrigger::callbacks]
impl Tools {
    #[allow(non_snake_case)]
    async fn get(&self, user_id: u64, userId: u64) -> u64 {
        user_id + userId
    }
}

fn main() {}
