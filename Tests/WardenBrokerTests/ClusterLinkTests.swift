import NIOCore
import Synchronization
import Testing
import WardenCore
import WardenMQTT

@testable import WardenBroker

/// What the broker tells the other nodes of a cluster and takes from them (the NATS side is WardenCluster's,
/// tested against a real server there).
extension BrokerTests {
    /// Records what the broker hands to the cluster.
    final class RecordingLink: ClusterLink {
        let forwarded = Mutex<[(topic: String, served: [SharedGroup])]>([])
        let groups = Mutex<[(group: SharedGroup, isAdded: Bool)]>([])

        func forward(_ message: BrokerMessage, in tenantID: TenantID, servedGroups: [SharedGroup], now: NIODeadline) {
            forwarded.withLock { $0.append((message.topic, servedGroups)) }
        }

        func interest(in tenantID: TenantID, _ filter: String, isAdded: Bool) {}

        func interest(in tenantID: TenantID, group: SharedGroup, isAdded: Bool) {
            groups.withLock { $0.append((group, isAdded)) }
        }
    }

    /// A group is announced when its first member here joins and when its last leaves; a message published here
    /// names the groups whose members here took it, so that no other node's member takes it too.
    @Test func aSharedGroupIsAnnouncedOnceAndNamedWhenServedHere() throws {
        let link = RecordingLink()
        let (early, earlyRecorder, _) = connect("early")
        _ = subscribe(early, "$share/g/jobs/#")
        broker.install(cluster: link)
        let (late, _, _) = connect("late")
        _ = subscribe(late, "$share/g/jobs/#")
        let group = SharedGroup(shareName: "g", filter: "jobs/#")
        #expect(link.groups.withLock { $0.map(\.group) } == [group])
        broker.publish(message("jobs/1"), in: tenant, now: now)
        broker.publish(message("other"), in: tenant, now: now)
        #expect(link.forwarded.withLock { $0.map(\.served) } == [[group], []])
        // The first leaves with its connection (a session ending with it), the second by UNSUBSCRIBE.
        broker.close(early, sink: earlyRecorder, will: nil, now: now)
        #expect(link.groups.withLock { $0.count } == 1)
        _ = broker.unsubscribe(late, [try TopicFilter("$share/g/jobs/#")])
        #expect(link.groups.withLock { $0.map(\.isAdded) } == [true, false])
    }

    /// Another node's message comes as a plain copy, for the plain subscriptions here, and as one copy per group
    /// that has members here, for one of them: never both.
    @Test func anotherNodesCopiesReachPlainSubscribersOrOneGroupMember() {
        let (plainSession, plain, _) = connect("plain")
        _ = subscribe(plainSession, "jobs/#")
        let members = ["a", "b"].map { id in
            let (session, recorder, _) = connect(id)
            _ = subscribe(session, "$share/g/jobs/#")
            return recorder
        }
        let (other, otherRecorder, _) = connect("c")
        _ = subscribe(other, "$share/h/jobs/#")
        broker.publishFromCluster(message("jobs/1"), in: tenant)
        #expect(plain.publishes.count == 1)
        #expect(members.allSatisfy { $0.publishes.isEmpty } && otherRecorder.publishes.isEmpty)
        for _ in 0..<4 {
            broker.publishFromCluster(
                message("jobs/2"), in: tenant, toGroup: SharedGroup(shareName: "g", filter: "jobs/#"))
        }
        #expect(members.map(\.publishes.count) == [2, 2])
        #expect(plain.publishes.count == 1 && otherRecorder.publishes.isEmpty)
        // A group's copy for a topic outside its filter (a NATS subject wider than the filter) reaches no one.
        broker.publishFromCluster(
            message("$jobs/3"), in: tenant, toGroup: SharedGroup(shareName: "g", filter: "jobs/#"))
        #expect(members.map(\.publishes.count) == [2, 2])
    }
}
