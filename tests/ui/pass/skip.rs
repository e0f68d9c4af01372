use outrigger::CallbackSet;

struct Tools {
    count: usize,
}

#[outrigger::callbacks]
impl Tools {
    const LIMIT: usize = 3;

    async fn count(&self) -> usize {
        self.helper().await + self.not_async_helper() + Self::new().count + Self::LIMIT
    }

    #[outrigger(skip)]
    async fn helper(&self) -> usize {
        self.count
    }

    #[outrigger(skip)]
    fn not_async_helper(&self) -> usize {
        self.count
    }

    /// Any method can be skipped, whatever its shape.
    #[outrigger(skip)]
    fn new() -> Self {
        Tools { count: 0 }
    }

    #[outrigger(skip)]
    fn generic<T: Into<usize>>(&mut self, value: T) {
        self.count = value.into();
    }
}

fn main() {
    let mut tools = Tools::new();
    tools.generic(1u8);
    let names: Vec<_> = Tools::declarations()
        .into_iter()
        .map(|d| d.js_name)
        .collect();
    assert_eq!(names, ["count"]);
}
