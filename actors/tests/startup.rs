//! Start-up registration against the memory datastore: the Node is created, then updated on a
//! restart without losing what others set on it, and the default pool is created once.

use std::collections::BTreeMap;
use std::sync::Arc;

use actors::config::{Interface, NodeConfig};
use actors::startup::{register, store};
use datastore::memory::MemoryDatastore;
use model::resources::{Kind, Resource};

fn config(pairs: &[(&str, &str)]) -> NodeConfig {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([("ETCD_ENDPOINTS".into(), "http://127.0.0.1:2379".into())])
        .collect();
    NodeConfig::from_lookup(|n| map.get(n).cloned(), Some("node-a".into())).unwrap()
}

#[tokio::test]
async fn registers_the_node_keeps_others_fields_on_restart_and_makes_the_pool_once() {
    let store = store(Arc::new(MemoryDatastore::new()));
    let host = vec![Interface {
        name: "eth0".into(),
        addresses: vec!["192.0.2.10/24".parse().unwrap()],
    }];
    let first = register(&store, &config(&[]), &host, &|_| None)
        .await
        .unwrap();
    assert_eq!(first.pools_created, vec!["default-ipv4-ippool".to_owned()]);
    assert_eq!(
        first.node.spec.bgp.as_ref().unwrap().ipv4_address,
        "192.0.2.10/24"
    );

    // An operator makes the node a route reflector; calico-node restarts with an AS.
    let Some(Resource::Node(mut n)) = store.get(Kind::Node, None, "node-a").await.unwrap() else {
        panic!("node registered");
    };
    n.spec.bgp.as_mut().unwrap().route_reflector_cluster_id = "1.0.0.1".into();
    store.update(Resource::Node(n)).await.unwrap();
    let second = register(&store, &config(&[("AS", "64513")]), &host, &|_| None)
        .await
        .unwrap();
    assert!(second.pools_created.is_empty());
    let bgp = second.node.spec.bgp.unwrap();
    assert_eq!(bgp.route_reflector_cluster_id, "1.0.0.1");
    assert_eq!(bgp.as_number.map(|a| a.get()), Some(64513));
    assert_eq!(store.list(Kind::IPPool, None).await.unwrap().items.len(), 1);
}
