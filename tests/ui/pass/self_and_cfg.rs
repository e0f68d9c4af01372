use outrigger::CallbackSet;

#[derive(Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
struct Point {
    x: i32,
    y: i32,
}

#[outrigger::callbacks]
impl Point {
    /// `Self` in arguments and results means the impl's type.
    async fn add(&self, other: Self) -> Self {
        Point {
            x: self.x + other.x,
            y: self.y + other.y,
        }
    }

    async fn many(&self, others: Vec<Self>) -> Option<Self> {
        others.first().cloned()
    }

    /// A callback that is compiled out is not declared.
    #[cfg(any())]
    async fn gone(&self, missing: DoesNotExist) {}

    #[cfg(all())]
    async fn kept(&self) {}
}

fn main() {
    let names: Vec<_> = Point::declarations()
        .into_iter()
        .map(|d| d.js_name)
        .collect();
    assert_eq!(names, ["add", "many", "kept"]);
}
