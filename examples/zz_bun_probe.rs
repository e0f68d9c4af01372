#[tokio::main]
async fn main() {
    let pool = outrigger::Pool::builder()
        .workers(1)
        .engine(outrigger::Engine::Bun)
        .engine_path(std::env::var("OUTRIGGER_BUN").unwrap())
        .sandbox(outrigger::Sandbox::none())
        .build()
        .await
        .unwrap();
    for src in std::env::args().skip(1) {
        let r = pool.eval::<serde_json::Value>(&src).await;
        println!("{src} => {r:?}");
    }
}
