use std::rc::Rc;

struct Tools;

async fn tick() {}

#[outrigger::callbacks]
impl Tools {
    async fn count(&self) -> usize {
        let shared = Rc::new(1);
        tick().await;
        *shared
    }
}

fn main() {}
