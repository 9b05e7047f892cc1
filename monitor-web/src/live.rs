//! Live updates over server-sent events: the status board and a running run's
//! detail are re-rendered on the server every couple of seconds and sent to
//! the page only when they changed; the page swaps the fragment in place.
//!
//! A store failure sends an `error` event (the page shows a banner) and the
//! stream keeps trying; a finished run sends its final fragment and `done`.

use std::convert::Infallible;
use std::hash::{DefaultHasher, Hash, Hasher};

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::watch;
use tracker_core::RunId;

use crate::error::{WebError, bad_request};
use crate::pages::{BoardFragment, RunFragment, load_board, load_run};
use crate::server::AppState;

/// Signals live streams that the server is stopping.
#[derive(Clone, Debug)]
pub(crate) struct Shutdown(pub(crate) watch::Receiver<bool>);

fn digest(text: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

enum Step {
    /// A fragment to send (if changed) and whether the stream ends after it.
    Fragment(String, bool),
    Failed(String),
}

struct Feed<F> {
    state: AppState,
    render: F,
    last: Option<u64>,
    first: bool,
    finished: bool,
    stop: Option<watch::Receiver<bool>>,
}

fn stream<F, Fut>(
    state: AppState,
    stop: Option<Extension<Shutdown>>,
    render: F,
) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: Fn(AppState) -> Fut + Send + 'static,
    Fut: Future<Output = Step> + Send,
{
    let feed =
        Feed { state, render, last: None, first: true, finished: false, stop: stop.map(|Extension(s)| s.0) };
    futures_util::stream::unfold(feed, |mut feed| async move {
        loop {
            if feed.finished || feed.stop.as_ref().is_some_and(|s| *s.borrow()) {
                return None;
            }
            if !feed.first {
                let sleep = tokio::time::sleep(feed.state.live_every);
                match feed.stop.as_mut() {
                    Some(stop) => {
                        tokio::select! {
                            () = sleep => {}
                            _ = stop.changed() => return None,
                        }
                    }
                    None => sleep.await,
                }
            }
            feed.first = false;
            match (feed.render)(feed.state.clone()).await {
                Step::Fragment(html, done) => {
                    let hash = digest(&html);
                    feed.finished = done;
                    if feed.last != Some(hash) {
                        feed.last = Some(hash);
                        let name = if done { "done" } else { "update" };
                        return Some((Ok(Event::default().event(name).data(html)), feed));
                    }
                }
                Step::Failed(message) => {
                    feed.last = None;
                    return Some((Ok(Event::default().event("failure").data(message)), feed));
                }
            }
        }
    })
}

fn failure(err: &WebError) -> String {
    format!("The store could not be read: {err}. Retrying…")
}

/// `/events/status`: the status board.
pub(crate) async fn status_events(
    State(state): State<AppState>,
    stop: Option<Extension<Shutdown>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    Sse::new(stream(state, stop, |state| async move {
        match load_board(&state.monitor).await {
            Ok(board) => match (BoardFragment { board: &board }).render() {
                Ok(html) => Step::Fragment(html, false),
                Err(err) => Step::Failed(failure(&WebError::from(err))),
            },
            Err(err) => Step::Failed(failure(&err)),
        }
    }))
    .keep_alive(KeepAlive::default())
}

/// `/events/runs/{run_id}`: one run's detail, until it finishes.
pub(crate) async fn run_events(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    stop: Option<Extension<Shutdown>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, crate::pages::PageError> {
    let run_id: RunId = run_id.parse().map_err(|_| bad_request(format!("{run_id:?} is not a run id")))?;
    Ok(Sse::new(stream(state, stop, move |state| async move {
        match load_run(&state.monitor, run_id).await {
            Ok(run) => match (RunFragment { run: &run }).render() {
                Ok(html) => Step::Fragment(html, !run.open),
                Err(err) => Step::Failed(failure(&WebError::from(err))),
            },
            Err(err) => Step::Failed(failure(&err)),
        }
    }))
    .keep_alive(KeepAlive::default()))
}
