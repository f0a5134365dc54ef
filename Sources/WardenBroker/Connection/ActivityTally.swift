import Foundation
import NIOCore
import WardenAuthentication
import WardenCore
import WardenMQTT

/// What a device's connection published during the current sampling interval, for the Defender's behaviour
/// baselines: counted on the connection's event loop (no locks), handed over once per interval.
struct ActivityTally {
    private var messages = 0
    private var bytes = 0
    private var largestPayload = 0
    /// Distinct topics (`DeviceActivity.topicKey`), at most `DeviceActivity.maximumTopics`, and whether more came;
    /// distinct as MQTT tells topics apart, by their bytes.
    private var topics: [TopicKey] = []
    private var moreTopics = false
    /// The last topic as it came: devices mostly publish to one, which then costs one comparison.
    private var lastTopic = TopicKey("")
    private var since: NIODeadline

    init(since: NIODeadline) { self.since = since }

    mutating func count(_ publish: PublishPacket) {
        messages &+= 1
        let size = publish.payload.readableBytes
        bytes &+= size
        if size > largestPayload { largestPayload = size }
        let topic = TopicKey(publish.topic)
        guard topic != lastTopic else { return }
        lastTopic = topic
        let key = TopicKey(DeviceActivity.topicKey(publish.topic))
        guard !topics.contains(key) else { return }
        if topics.count < DeviceActivity.maximumTopics { topics.append(key) } else { moreTopics = true }
    }

    /// The interval's activity, and a fresh interval from `now`.
    mutating func sample(of device: DeviceIdentity, at now: NIODeadline, date: Date) -> DeviceActivity {
        // total: an interval of a connection's lifetime is far inside Double's exact range in nanoseconds.
        let seconds = Double((now - since).nanoseconds) / 1_000_000_000
        defer { self = ActivityTally(since: now) }
        return DeviceActivity(
            tenantID: device.tenantID, deviceID: device.deviceID, seconds: seconds, messages: messages, bytes: bytes,
            largestPayload: largestPayload, topics: topics.map(\.topic), moreTopics: moreTopics, at: date)
    }
}
