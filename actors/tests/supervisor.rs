//! The supervisor on paused tokio time: a child that fails is restarted after growing delays,
//! the others keep running, a child that cannot start is retried.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actors::backoff::BackoffPolicy;
use actors::bus::Addr;
use actors::supervisor::{
    ChildSpec, ChildStatus, Restart, Supervisor, SupervisorArgs, SupervisorMsg,
};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SpawnErr, call};
use tokio::time::Instant;

/// A child that fails on request.
#[derive(Clone)]
struct Worker {
    /// When each incarnation started.
    starts: Arc<Mutex<Vec<Instant>>>,
}

enum WorkerMsg {
    Fail,
    Panic,
    Ping(RpcReplyPort<u32>),
}

impl Actor for Worker {
    type Msg = WorkerMsg;
    /// Pings answered by this incarnation.
    type State = u32;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<WorkerMsg>, _: ()) -> Result<u32, ActorProcessingErr> {
        self.starts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Instant::now());
        Ok(0)
    }

    async fn handle(
        &self,
        _: ActorRef<WorkerMsg>,
        msg: WorkerMsg,
        pings: &mut u32,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            WorkerMsg::Fail => Err("told to fail".into()),
            WorkerMsg::Panic => panic!("told to panic"),
            WorkerMsg::Ping(reply) => {
                *pings += 1;
                let _ = reply.send(*pings);
                Ok(())
            }
        }
    }
}

/// A worker child whose every incarnation is bound to `addr`.
fn worker(label: &str, starts: &Arc<Mutex<Vec<Instant>>>, addr: &Addr<WorkerMsg>) -> ChildSpec {
    let (handler, addr) = (
        Worker {
            starts: Arc::clone(starts),
        },
        addr.clone(),
    );
    ChildSpec::new(label, move |supervisor| {
        let (handler, addr) = (handler.clone(), addr.clone());
        async move {
            let (actor, _) = Actor::spawn_linked(None, handler, (), supervisor).await?;
            addr.bind(actor.clone());
            Ok(actor.get_cell())
        }
    })
}

fn policy() -> BackoffPolicy {
    BackoffPolicy {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(10),
        reset_after: Duration::from_secs(60),
    }
}

fn starts_of(starts: &Arc<Mutex<Vec<Instant>>>) -> Vec<Instant> {
    starts.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

async fn wait_starts(starts: &Arc<Mutex<Vec<Instant>>>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while starts_of(starts).len() < n {
        assert!(Instant::now() < deadline, "fewer than {n} starts in 30 s");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn ping(addr: &Addr<WorkerMsg>) -> u32 {
    let Some(actor) = addr.get() else {
        panic!("the worker's address is not bound");
    };
    call!(actor, WorkerMsg::Ping).unwrap_or_else(|e| panic!("the worker does not answer: {e}"))
}

#[tokio::test(start_paused = true)]
async fn a_child_that_fails_twice_is_restarted_twice_with_growing_delays_and_the_others_keep_running()
 {
    let (flaky_starts, steady_starts) = (Arc::default(), Arc::default());
    let (flaky, steady) = (Addr::new(), Addr::new());
    let restarts: Arc<Mutex<Vec<(Instant, Restart)>>> = Arc::default();
    let hook_restarts = Arc::clone(&restarts);
    let args = SupervisorArgs {
        children: vec![
            worker("flaky", &flaky_starts, &flaky),
            worker("steady", &steady_starts, &steady),
        ],
        backoff: policy(),
        on_restart: Some(Arc::new(move |r: &Restart| {
            hook_restarts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((Instant::now(), r.clone()));
        })),
    };
    let (supervisor, _) = Actor::spawn(None, Supervisor, args)
        .await
        .unwrap_or_else(|e| panic!("the supervisor does not start: {e}"));
    wait_starts(&flaky_starts, 1).await;
    wait_starts(&steady_starts, 1).await;
    assert_eq!(ping(&steady).await, 1);

    // An error returned from a handler, then a panic.
    assert!(flaky.cast(WorkerMsg::Fail));
    wait_starts(&flaky_starts, 2).await;
    assert_eq!(
        ping(&steady).await,
        2,
        "steady runs on while flaky restarts"
    );
    assert!(flaky.cast(WorkerMsg::Panic));
    wait_starts(&flaky_starts, 3).await;
    assert_eq!(ping(&flaky).await, 1, "the third incarnation answers");
    assert_eq!(ping(&steady).await, 3, "steady was never restarted");
    assert_eq!(starts_of(&steady_starts).len(), 1);

    let restarts = restarts.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let reports: Vec<(usize, &str, u32, Duration)> = restarts
        .iter()
        .map(|(_, r)| (r.child, r.label.as_str(), r.failures, r.delay))
        .collect();
    assert_eq!(
        reports,
        vec![
            (0, "flaky", 1, Duration::from_millis(100)),
            (0, "flaky", 2, Duration::from_millis(200)),
        ]
    );
    assert!(
        restarts[0].1.reason.contains("told to fail"),
        "{restarts:?}"
    );
    assert!(
        restarts[1].1.reason.contains("told to panic"),
        "{restarts:?}"
    );
    // Each incarnation started its delay after the failure was reported.
    let starts = starts_of(&flaky_starts);
    for (i, (failed_at, r)) in restarts.iter().enumerate() {
        assert_eq!(starts[i + 1] - *failed_at, r.delay, "restart {i}");
    }

    let children = call!(supervisor, SupervisorMsg::Children)
        .unwrap_or_else(|e| panic!("the supervisor does not answer: {e}"));
    assert_eq!(
        children,
        vec![
            ChildStatus {
                label: "flaky".into(),
                running: true,
                restarts: 2
            },
            ChildStatus {
                label: "steady".into(),
                running: true,
                restarts: 0
            },
        ]
    );
    supervisor
        .stop_and_wait(None, None)
        .await
        .unwrap_or_else(|e| panic!("the supervisor does not stop: {e}"));
    assert!(
        !flaky.cast(WorkerMsg::Fail),
        "children stop with their supervisor"
    );
    assert!(
        !steady.cast(WorkerMsg::Fail),
        "children stop with their supervisor"
    );
}

#[tokio::test(start_paused = true)]
async fn a_child_that_cannot_start_is_retried_with_backoff() {
    let attempts: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = Arc::clone(&attempts);
    let starts = Arc::default();
    let addr = Addr::new();
    let child = worker("late", &starts, &addr);
    let late = ChildSpec::new("late", move |supervisor| {
        let (seen, start) = (Arc::clone(&seen), Arc::clone(&child.start));
        async move {
            let n = {
                let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                seen.push(Instant::now());
                seen.len()
            };
            if n <= 2 {
                return Err(SpawnErr::StartupFailed("not ready yet".into()));
            }
            start(supervisor).await
        }
    });
    let t0 = Instant::now();
    let (supervisor, _) = Actor::spawn(
        None,
        Supervisor,
        SupervisorArgs {
            children: vec![late],
            backoff: policy(),
            on_restart: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("the supervisor does not start: {e}"));
    wait_starts(&starts, 1).await;
    let attempts: Vec<Duration> = starts_of(&attempts).iter().map(|t| *t - t0).collect();
    assert_eq!(
        attempts,
        vec![
            Duration::ZERO,
            Duration::from_millis(100),
            Duration::from_millis(300)
        ]
    );
    assert_eq!(ping(&addr).await, 1);
    supervisor.stop(None);
}
