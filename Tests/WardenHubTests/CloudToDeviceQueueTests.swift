import Testing
import WardenCore
import WardenStore

@testable import WardenHub

/// IoT Hub's cloud-to-device states (anchors.md §1.5) as the queue value walks them.
struct CloudToDeviceQueueTests {
    let device: DeviceID

    init() throws {
        device = try DeviceID("valve-1")
    }

    func message(_ sequence: Int64, ack: CloudToDeviceMessage.Acknowledgement = .full, expiresAt: Int64 = 10_000)
        -> CloudToDeviceMessage
    {
        CloudToDeviceMessage(
            sequenceNumber: sequence, tenantID: .defaultTenant, deviceID: device, messageID: "m\(sequence)",
            correlationID: nil, properties: "", body: [1], acknowledgement: ack, enqueuedAt: 0, expiresAt: expiresAt)
    }

    func feedback(_ changes: [DeviceStateChange]) -> [CloudToDeviceFeedback.Status] {
        changes.compactMap { change in
            if case .settleCloudToDevice(_, let feedback) = change { return feedback.status }
            return nil
        }
    }

    /// Another node's committed changes: a message it queued joins in sequence order, one it changed keeps this
    /// node's MQTT delivery, one it settled leaves; a change for what is not here and gone changes nothing.
    @Test func followsWhatAnotherNodeCommitted() throws {
        var queue = CloudToDeviceQueue(limits: .init(), restoring: [message(1), message(5)])
        _ = queue.lock(for: .mqtt, now: 0)
        queue.follow(3, stored: message(3))
        #expect(queue.entries.map(\.message.sequenceNumber) == [1, 3, 5])
        var abandoned = message(1)
        abandoned.deliveryCount = 2
        queue.follow(1, stored: abandoned)
        #expect(queue.entries[0].message.deliveryCount == 2 && queue.entries[0].holder == .mqtt)
        queue.follow(5, stored: nil)
        queue.follow(9, stored: nil)
        #expect(queue.entries.map(\.message.sequenceNumber) == [1, 3])
    }

    /// An HTTPS lock is stored with the message: a node that follows it holds the message for the lock's time
    /// and settles it with the token, and a lock abandoned elsewhere is released here too.
    @Test func anHTTPSLockTakenOnAnotherNodeHoldsAndSettlesHere() throws {
        var queue = CloudToDeviceQueue(limits: .init(), restoring: [message(1), message(2)])
        var locked = message(1)
        locked.httpsLock = .init(token: "elsewhere", until: 1000)
        queue.follow(1, stored: locked)
        #expect(queue.lock(for: .mqtt, now: 10).map(\.sequenceNumber) == [2])
        #expect(queue.lockForHTTPS(token: "here", now: 10, duration: 1000) == nil)
        queue.follow(1, stored: message(1))
        #expect(queue.entries[0].isHeld(at: 10) == false)
        queue.follow(1, stored: locked)
        let changes = try queue.settle(token: "elsewhere", .complete, now: 20) { 1 }
        #expect(feedback(changes) == [.success])
        #expect(throws: WardenError.self) { _ = try queue.settle(token: "elsewhere", .complete, now: 20) { 2 } }
    }

    /// A receive stores the message with its lock; a restored message keeps a lock that has not run out.
    @Test func theLockIsStoredAndOutlivesARestart() throws {
        var queue = CloudToDeviceQueue(limits: .init(), restoring: [message(1)])
        let locked = queue.lockForHTTPS(token: "t", now: 100, duration: 500)
        let (received, changes) = try #require(locked)
        #expect(
            received.httpsLock == .init(token: "t", until: 600)
                && changes == [.lockCloudToDevice(received, freeAt: 100)])
        var restarted = CloudToDeviceQueue(limits: .init(), restoring: [received])
        #expect(restarted.lock(for: .mqtt, now: 200).isEmpty && restarted.lock(for: .mqtt, now: 600).count == 1)
    }

    /// On several nodes one node settles each expiry: the others leave the message (and its feedback) to it.
    @Test func expiryLeavesOtherNodesMessages() {
        var queue = CloudToDeviceQueue(
            limits: .init(), restoring: [message(1, expiresAt: 10), message(2, expiresAt: 10)])
        let changes = queue.expire(now: 20, isMine: { $0 == 2 }, feedbackNumber: { 1 })
        #expect(feedback(changes) == [.expired])
        #expect(queue.entries.map(\.message.sequenceNumber) == [1])
    }

    @Test func theDepthLimitRefusesWithAClearError() throws {
        var queue = CloudToDeviceQueue(limits: .init(maximumDepth: 2))
        _ = try queue.enqueue(message(1))
        _ = try queue.enqueue(message(2))
        #expect(throws: WardenError.self) { _ = try queue.enqueue(message(3)) }
        #expect(queue.entries.count == 2)
    }

    /// A lock the store did not take (another node's came first) is let go; another token's stays.
    @Test func aLockThatDidNotTakeIsLetGo() {
        var queue = CloudToDeviceQueue(limits: .init(), restoring: [message(1)])
        _ = queue.lockForHTTPS(token: "mine", now: 100, duration: 60_000)
        queue.releaseHTTPS(token: "someone else's")
        #expect(queue.entries[0].isHeld(at: 200))
        queue.releaseHTTPS(token: "mine")
        #expect(!queue.entries[0].isHeld(at: 200))
    }

    @Test func httpsReceiveLocksCompleteRemovesWithFeedback() throws {
        var queue = CloudToDeviceQueue(limits: .init(), restoring: [message(1), message(2)])
        let received = queue.lockForHTTPS(token: "t1", now: 100, duration: 60_000)
        #expect(received?.message.sequenceNumber == 1)
        // The next receive skips the locked one.
        let next = queue.lockForHTTPS(token: "t2", now: 100, duration: 60_000)
        #expect(next?.message.sequenceNumber == 2)
        let changes = try queue.settle(token: "t1", .complete, now: 200) { 7 }
        #expect(changes.count == 1 && feedback(changes) == [.success])
        #expect(throws: WardenError.self) { _ = try queue.settle(token: "t1", .complete, now: 200) { 8 } }
    }

    @Test func abandonCountsAndTheLimitDeadLetters() throws {
        var queue = CloudToDeviceQueue(limits: .init(maximumDeliveryCount: 2), restoring: [message(1)])
        _ = queue.lockForHTTPS(token: "a", now: 0, duration: 1000)
        let first = try queue.settle(token: "a", .abandon, now: 1) { 1 }
        #expect(first.count == 1 && queue.entries.first?.message.deliveryCount == 1)
        _ = queue.lockForHTTPS(token: "b", now: 2, duration: 1000)
        let second = try queue.settle(token: "b", .abandon, now: 3) { 2 }
        #expect(feedback(second) == [.deliveryCountExceeded] && queue.entries.isEmpty)
    }

    @Test func rejectDeadLettersAndFeedbackFollowsTheAck() throws {
        var queue = CloudToDeviceQueue(
            limits: .init(), restoring: [message(1, ack: .positive), message(2, ack: .negative)])
        _ = queue.lockForHTTPS(token: "a", now: 0, duration: 1000)
        let rejected = try queue.settle(token: "a", .reject, now: 1) { 1 }
        #expect(feedback(rejected).isEmpty)  // positive: no failure report
        _ = queue.lockForHTTPS(token: "b", now: 0, duration: 1000)
        let completed = try queue.settle(token: "b", .complete, now: 1) { 2 }
        #expect(feedback(completed).isEmpty)  // negative: no success report
    }

    @Test func lockExpiryReturnsToEnqueuedWithoutCountingAndTTLDeadLetters() throws {
        var queue = CloudToDeviceQueue(limits: .init(), restoring: [message(1, expiresAt: 5000), message(2)])
        _ = queue.lockForHTTPS(token: "a", now: 0, duration: 1000)
        #expect(queue.nextDeadline == 1000)
        let unlocked = queue.expire(now: 1000) { 1 }
        #expect(unlocked.isEmpty)
        #expect(!queue.entries[0].isHeld(at: 1000) && queue.entries[0].message.deliveryCount == 0)
        let expired = queue.expire(now: 5000) { 1 }
        #expect(feedback(expired) == [.expired] && queue.entries.map(\.message.sequenceNumber) == [2])
        #expect(throws: WardenError.self) { _ = try queue.settle(token: "a", .complete, now: 5001) { 2 } }
    }

    @Test func mqttDeliveryLocksUntilThePubackOrTheConnectionEnds() throws {
        var queue = CloudToDeviceQueue(limits: .init(), restoring: [message(1), message(2), message(3, expiresAt: 10)])
        let delivered = queue.lock(for: .mqtt, now: 100)
        #expect(delivered.map(\.sequenceNumber) == [1, 2])
        let again = queue.lock(for: .mqtt, now: 100)
        #expect(again.isEmpty)
        #expect(queue.lockForHTTPS(token: "x", now: 100, duration: 1) == nil)
        // An MQTT lock does not run out; the message waits for its PUBACK.
        let expired = queue.expire(now: 9000) { 1 }
        #expect(feedback(expired) == [.expired] && expired.count == 1)  // only #3 (expired, unlocked) goes
        _ = try queue.settle(sequence: 1, .complete, now: 9001) { 2 }
        queue.release(.mqtt)
        #expect(queue.entries.map(\.message.sequenceNumber) == [2] && !queue.entries[0].isHeld(at: 9001))
    }

    @Test func purgeEmptiesWithPurgedFeedback() {
        var queue = CloudToDeviceQueue(limits: .init(), restoring: [message(1), message(2, ack: .none)])
        let changes = queue.purge(now: 1) { 1 }
        #expect(feedback(changes) == [.purged] && queue.entries.isEmpty)
        #expect(changes.count == 2 && changes.last == .deleteCloudToDevice(sequence: 2))
    }
}
