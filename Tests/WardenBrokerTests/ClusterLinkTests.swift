import Foundation
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
        let node = UUID()
        let forwarded = Mutex<[(topic: String, served: [SharedGroup], stamp: RetainStamp?)]>([])
        let groups = Mutex<[(group: SharedGroup, isAdded: Bool)]>([])

        func forward(
            _ message: BrokerMessage, in tenantID: TenantID, servedGroups: [SharedGroup], stamp: RetainStamp?,
            now: NIODeadline
        ) {
            forwarded.withLock { $0.append((message.topic, servedGroups, stamp)) }
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
    @Test func anotherNodesCopiesReachPlainSubscribersOrOneGroupMember() throws {
        let (plainSession, plain, _) = connect("plain")
        _ = subscribe(plainSession, "jobs/#")
        let members = ["a", "b"].map { id in
            let (session, recorder, _) = connect(id)
            _ = subscribe(session, "$share/g/jobs/#")
            return recorder
        }
        let (other, otherRecorder, _) = connect("c")
        _ = subscribe(other, "$share/h/jobs/#")
        broker.publishFromCluster(message("jobs/1"), in: tenant, stamp: .unstamped)
        #expect(plain.publishes.count == 1)
        #expect(members.allSatisfy { $0.publishes.isEmpty } && otherRecorder.publishes.isEmpty)
        for _ in 0..<4 {
            broker.publishFromCluster(
                message("jobs/2"), in: tenant, stamp: .unstamped, toGroup: SharedGroup(shareName: "g", filter: "jobs/#")
            )
        }
        #expect(members.map(\.publishes.count) == [2, 2])
        #expect(plain.publishes.count == 1 && otherRecorder.publishes.isEmpty)
        // A group's copy for a topic outside its filter (a NATS subject wider than the filter) reaches no one.
        broker.publishFromCluster(
            message("$jobs/3"), in: tenant, stamp: .unstamped, toGroup: SharedGroup(shareName: "g", filter: "jobs/#"))
        #expect(members.map(\.publishes.count) == [2, 2])
        // Counted where they were published, not here (`$SYS` sums the nodes' counts); delivered here, counted here.
        let figures = try #require(broker.tenantFigures()[tenant])
        #expect(figures.received == 0 && figures.delivered == 5)
    }

    /// Retained messages of one topic published on several nodes at once: every node keeps the one with the
    /// latest stamp, whatever order they arrive in, and a clear holds the topic against older ones. A live
    /// subscriber still gets each message; only what is retained is decided by the stamps.
    @Test func theLatestRetainedMessageWinsOnEveryNode() throws {
        let link = RecordingLink()
        broker.install(cluster: link)
        let (watcher, watching, _) = connect("watcher")
        _ = subscribe(watcher, "r")
        func retained() -> String? {
            let (session, _, _) = connect("reader-\(UUID())")
            let payload = subscribe(session, "r").first?.retained.first?.message.payload
            return payload.map { String(buffer: $0) }
        }
        broker.publish(message("r", retain: true, payload: "here"), in: tenant, now: now)
        let own = try #require(link.forwarded.withLock { $0.last?.stamp })
        #expect(own.node == link.node)
        let other = UUID()
        broker.publishFromCluster(
            message("r", retain: true, payload: "older"), in: tenant,
            stamp: RetainStamp(time: own.time - 1, node: other))
        #expect(retained() == "here")
        // An hour ahead: another node whose clock is ahead of this one's.
        let ahead = RetainStamp(time: own.time + 3_600_000_000, node: other)
        broker.publishFromCluster(message("r", retain: true, payload: "later"), in: tenant, stamp: ahead)
        #expect(retained() == "later")
        #expect(watching.publishes.count == 3)
        // What is published here after it is stamped after it, whatever this node's clock says.
        broker.publish(message("r", retain: true, payload: "after"), in: tenant, now: now)
        let next = try #require(link.forwarded.withLock { $0.last?.stamp })
        #expect(next > ahead && retained() == "after")
        // A clear holds the topic: an older message arriving after it is not kept.
        broker.publishFromCluster(
            message("r", retain: true, payload: ""), in: tenant, stamp: RetainStamp(time: next.time + 10, node: other))
        broker.publishFromCluster(
            message("r", retain: true, payload: "late"), in: tenant,
            stamp: RetainStamp(time: next.time + 5, node: other))
        #expect(retained() == nil)
        // Same time: the node that sorts later wins, on every node alike.
        let time = next.time + 20
        let low = RetainStamp(time: time, node: UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)))
        let high = RetainStamp(time: time, node: UUID(uuid: (255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)))
        broker.publishFromCluster(message("r", retain: true, payload: "high"), in: tenant, stamp: high)
        broker.publishFromCluster(message("r", retain: true, payload: "low"), in: tenant, stamp: low)
        #expect(retained() == "high" && low < high)
    }

    /// Another node's retained message is kept whatever this node's count of the tenant's topics (its node
    /// checked the limit; refused here, the nodes would differ), and a message published here wins over a stamp
    /// from a node whose clock is far ahead.
    @Test func anotherNodesRetainedMessageIsKeptAndOneFromHereWinsOverAClockAhead() throws {
        let link = RecordingLink()
        broker.install(cluster: link)
        func retained(_ topic: String) -> String? {
            let (session, _, _) = connect("reader-\(UUID())")
            return subscribe(session, topic).first?.retained.first.map { String(buffer: $0.message.payload) }
        }
        // The tenant may retain two topics here.
        for topic in ["a", "b"] { broker.publish(message(topic, retain: true), in: tenant, now: now) }
        #expect(broker.publish(message("c", retain: true), in: tenant, now: now).retainAccepted == false)
        let other = UUID()
        let time = Date().unixMicroseconds
        broker.publishFromCluster(
            message("d", retain: true, payload: "theirs"), in: tenant, stamp: RetainStamp(time: time, node: other))
        #expect(retained("d") == "theirs")
        // Ten years ahead: this node's message is stamped after it still, and goes out so.
        let ahead = RetainStamp(time: time + 315_360_000_000_000, node: other)
        broker.publishFromCluster(message("d", retain: true, payload: "ahead"), in: tenant, stamp: ahead)
        broker.publish(message("d", retain: true, payload: "here"), in: tenant, now: now)
        let sent = try #require(link.forwarded.withLock { $0.last?.stamp })
        #expect(retained("d") == "here" && sent > ahead && sent.node == link.node)
    }
}
