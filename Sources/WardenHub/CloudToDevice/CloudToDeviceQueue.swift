import WardenCore
import WardenStore

/// How a receiver settles a message: complete, reject (dead-letter) or abandon (back to Enqueued, counted).
public enum CloudToDeviceSettlement: Sendable {
    case complete, reject, abandon
}

/// One device's cloud-to-device queue as a value (STYLE R6.5: events in, store changes out, no I/O), with IoT
/// Hub's states (anchors.md §1.5): Enqueued, Invisible (in flight on a connection of the device until it
/// settles it — an MQTT PUBACK, an AMQP disposition — or locked to an HTTPS receiver until the lock ends), then
/// Completed or dead-lettered (rejected, expired, delivered too often, purged), which take it out of the queue.
/// Abandon and lock expiry return it to Enqueued; only abandon counts as a delivery. An HTTPS lock is part of
/// the stored message (any node's copy follows it, so the device may settle on another node); a delivery on a
/// connection is this node's own.
struct CloudToDeviceQueue: Sendable {
    /// The connection here a message is in flight on.
    enum Holder: Hashable, Sendable {
        /// The device's MQTT session: its PUBACK completes the message.
        case mqtt
        /// A cloud-to-device link of another protocol (`CloudToDeviceLink`), by its attachment number.
        case link(UInt64)
    }

    struct Entry: Sendable {
        var message: CloudToDeviceMessage
        /// In flight on a connection here: settled by it, released when it ends.
        var holder: Holder?

        /// Whether a connection or an HTTPS lock still running at `now` holds the message.
        func isHeld(at now: Int64) -> Bool {
            holder != nil || (message.httpsLock.map { $0.until > now } ?? false)
        }
    }

    struct Limits: Sendable {
        var maximumDepth = 50
        var maximumDeliveryCount = 10
    }

    private(set) var entries: [Entry] = []
    let limits: Limits

    init(limits: Limits, restoring messages: [CloudToDeviceMessage] = []) {
        self.limits = limits
        self.entries = messages.map { Entry(message: $0) }
    }

    /// Adds a message at the end; `c2d.queue_full` at the depth limit.
    mutating func enqueue(_ message: CloudToDeviceMessage) throws(WardenError) -> [DeviceStateChange] {
        guard entries.count < limits.maximumDepth else {
            throw WardenError(
                .c2dQueueFull,
                "Device '\(message.deviceID)' has \(entries.count) cloud-to-device messages waiting, the most its queue holds."
            )
        }
        entries.append(Entry(message: message))
        return [.putCloudToDevice(message)]
    }

    /// Locks the Enqueued, unexpired messages (at most `limit`) to a connection of the device and returns
    /// them, oldest first.
    mutating func lock(for holder: Holder, now: Int64, limit: Int = .max) -> [CloudToDeviceMessage] {
        var locked: [CloudToDeviceMessage] = []
        for index in entries.indices where !entries[index].isHeld(at: now) && entries[index].message.expiresAt > now {
            guard locked.count < limit else { break }
            entries[index].holder = holder
            locked.append(entries[index].message)
        }
        return locked
    }

    /// Returns messages in flight on `holder` (those of `sequences`, or all) to Enqueued: the connection ended,
    /// or never took them.
    mutating func release(_ holder: Holder, _ sequences: Set<Int64>? = nil) {
        for index in entries.indices where entries[index].holder == holder {
            if sequences?.contains(entries[index].message.sequenceNumber) ?? true { entries[index].holder = nil }
        }
    }

    /// Locks the oldest Enqueued, unexpired message to an HTTPS receiver until `now + duration`; the locked
    /// message is stored with its lock.
    mutating func lockForHTTPS(token: String, now: Int64, duration: Int64) -> (
        message: CloudToDeviceMessage, changes: [DeviceStateChange]
    )? {
        guard let index = entries.firstIndex(where: { !$0.isHeld(at: now) && $0.message.expiresAt > now }) else {
            return nil
        }
        entries[index].message.httpsLock = .init(token: token, until: now + duration)
        return (entries[index].message, [.lockCloudToDevice(entries[index].message, freeAt: now)])
    }

    /// Forgets HTTPS lock `token` (the store did not take it: another node locked or settled the message first).
    mutating func releaseHTTPS(token: String) {
        for index in entries.indices where entries[index].message.httpsLock?.token == token {
            entries[index].message.httpsLock = nil
        }
    }

    /// Settles the message with `sequence` (an MQTT PUBACK: any state, so a late acknowledgement still
    /// completes it; a link's disposition: only while that link holds it), or holding HTTPS lock `token`;
    /// `c2d.lock_lost` when there is none.
    mutating func settle(
        sequence: Int64? = nil, heldBy holder: Holder? = nil, token: String? = nil,
        _ settlement: CloudToDeviceSettlement, now: Int64, feedbackNumber: () -> Int64
    ) throws(WardenError) -> [DeviceStateChange] {
        guard
            let index = entries.firstIndex(where: { entry in
                if let sequence {
                    return entry.message.sequenceNumber == sequence && (holder == nil || entry.holder == holder)
                }
                guard let lock = entry.message.httpsLock else { return false }
                return lock.token == token && lock.until > now
            })
        else {
            throw WardenError(.c2dLockLost, "No message is locked with that token; its lock may have expired.")
        }
        switch settlement {
        case .complete:
            return remove(at: index, .success, "Success", now: now, feedbackNumber)
        case .reject:
            return remove(at: index, .rejected, "Message rejected", now: now, feedbackNumber)
        case .abandon:
            entries[index].message.httpsLock = nil
            entries[index].holder = nil
            entries[index].message.deliveryCount &+= 1  // stored: may be anything after a foreign file
            if entries[index].message.deliveryCount >= limits.maximumDeliveryCount {
                return remove(at: index, .deliveryCountExceeded, "Delivery count exceeded", now: now, feedbackNumber)
            }
            return [.updateCloudToDevice(entries[index].message)]
        }
    }

    /// Dead-letters messages past their expiry (unless in flight on a connection) that `isMine` says this node settles,
    /// and forgets HTTPS locks that ran out (the stored row may keep one: a lock past its end holds nothing).
    mutating func expire(now: Int64, isMine: (Int64) -> Bool = { _ in true }, feedbackNumber: () -> Int64)
        -> [DeviceStateChange]
    {
        var changes: [DeviceStateChange] = []
        var index = entries.startIndex
        while index < entries.endIndex {
            if let lock = entries[index].message.httpsLock, lock.until <= now { entries[index].message.httpsLock = nil }
            if !entries[index].isHeld(at: now), entries[index].message.expiresAt <= now,
                isMine(entries[index].message.sequenceNumber)
            {
                changes += remove(at: index, .expired, "Message expired", now: now, feedbackNumber)
            } else {
                index += 1
            }
        }
        return changes
    }

    /// Takes up a change another node committed: the message as the store now holds it (with its HTTPS lock;
    /// a delivery on a connection here kept), or its leaving (nil). Messages stay in sequence order.
    mutating func follow(_ sequence: Int64, stored message: CloudToDeviceMessage?) {
        let index = entries.firstIndex { $0.message.sequenceNumber == sequence }
        switch (index, message) {
        case (let index?, let message?): entries[index].message = message
        case (let index?, nil): entries.remove(at: index)
        case (nil, let message?):
            let position = entries.firstIndex { $0.message.sequenceNumber > sequence } ?? entries.endIndex
            entries.insert(Entry(message: message), at: position)
        case (nil, nil): break
        }
    }

    /// Becomes what the store holds (`stored`, in sequence order), keeping which messages are in flight on
    /// connections here.
    mutating func reconcile(with stored: [CloudToDeviceMessage]) {
        var holders: [Int64: Holder] = [:]
        for entry in entries { holders[entry.message.sequenceNumber] = entry.holder }
        entries = stored.map { Entry(message: $0, holder: holders[$0.sequenceNumber]) }
    }

    /// Empties the queue.
    mutating func purge(now: Int64, feedbackNumber: () -> Int64) -> [DeviceStateChange] {
        var changes: [DeviceStateChange] = []
        while !entries.isEmpty { changes += remove(at: 0, .purged, "Message purged", now: now, feedbackNumber) }
        return changes
    }

    /// The earliest time something changes by itself (an expiry or an HTTPS lock's end), if any.
    var nextDeadline: Int64? {
        entries.compactMap { entry -> Int64? in
            if entry.holder != nil { return nil }
            return entry.message.httpsLock?.until ?? entry.message.expiresAt
        }.min()
    }

    private mutating func remove(
        at index: Int, _ status: CloudToDeviceFeedback.Status, _ description: String, now: Int64,
        _ feedbackNumber: () -> Int64
    ) -> [DeviceStateChange] {
        let message = entries.remove(at: index).message
        let wanted =
            status == .success ? message.acknowledgement.reportsSuccess : message.acknowledgement.reportsFailure
        guard wanted else { return [.deleteCloudToDevice(sequence: message.sequenceNumber)] }
        return [
            .settleCloudToDevice(
                sequence: message.sequenceNumber,
                feedback: CloudToDeviceFeedback(
                    sequenceNumber: feedbackNumber(), tenantID: message.tenantID, deviceID: message.deviceID,
                    originalMessageID: message.messageID, status: status, description: description,
                    enqueuedAt: message.enqueuedAt, recordedAt: now))
        ]
    }
}
