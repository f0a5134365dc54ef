public import Logging
import Metrics
import NIOCore
import Synchronization
import WardenAzure
import WardenBroker
public import WardenCore
import WardenMQTT
import WardenStore

/// Turns a device's PUBLISH on `devices/{id}/messages/events/{property bag}` (or its Will there) into a
/// stored `TelemetryMessage`: stamped with tenant, device, enqueued time, sequence number and auth method,
/// committed in the broker's group commit before the PUBACK, and routed to subscribers (backend services)
/// with the stamps as 5.0 user properties.
public final class TelemetryIngest: Sendable {
    let clock: any WardenClock
    private let numbers: SequenceNumbers
    private let accepted = Counter(label: "warden_telemetry_messages_total")
    private let refused = Counter(label: "warden_telemetry_refused_total", dimensions: [("reason", "property_bag")])
    private let logger: Logger

    /// Continues numbering after `lastSequence`, the highest number stored; on a node of a cluster, in its
    /// `slot` (`SequenceNumbers`).
    public init(lastSequence: Int64, slot: Int? = nil, clock: any WardenClock, logger: Logger) {
        self.numbers = SequenceNumbers(after: lastSequence, slot: slot) { clock.now().unixMicroseconds }
        self.clock = clock
        self.logger = logger
    }

    /// The largest sequence number a page of stored telemetry may hold now (`SequenceNumbers.settled`).
    public func settledSequence() -> Int64 {
        numbers.settled()
    }

    /// The outcome for a PUBLISH on a telemetry topic with property bag `bagText`.
    func ingest(_ message: BrokerMessage, bag bagText: String, from sender: DeviceSender, isWill: Bool)
        -> DeviceTrafficOutcome
    {
        let bag: PropertyBag
        do {
            bag = try PropertyBag(parsing: bagText[...])
        } catch {
            refused.increment()
            return .refused("the property bag does not parse (\(error))")
        }
        // What the device said in 5.0 properties joins the bag, as Azure's MQTT 5 support maps them.
        var additions: [PropertyBag.Property] = []
        if let contentType = message.properties.contentType, bag["$.ct"] == nil {
            additions.append(.init("$.ct", contentType))
        }
        additions += message.properties.userProperties.map { .init($0.name, $0.value) }
        var stamps: [UserProperty] = []
        if isWill {
            additions.append(.init("iothub-MessageType", "Will"))
            stamps.append(UserProperty("iothub-MessageType", "Will"))
        }
        // Azure does not retain device messages: RETAIN becomes a property.
        let retains = message.retain && sender.dialect == .plain
        if message.retain, sender.dialect == .azure {
            additions.append(.init("mqtt-retain", "true"))
            stamps.append(UserProperty("mqtt-retain", "true"))
        }
        var properties = bagText
        if !additions.isEmpty { properties += (properties.isEmpty ? "" : "&") + PropertyBag(additions).text }
        let enqueuedAt = clock.nowMilliseconds()
        let sequence = numbers.next()
        let stored = TelemetryMessage(
            sequenceNumber: sequence, tenantID: sender.tenantID, deviceID: sender.deviceID,
            enqueuedAtMilliseconds: enqueuedAt, authMethod: sender.authMethod, properties: properties,
            body: Array(message.payload.readableBytesView))
        accepted.increment()
        stamps += [
            UserProperty("iothub-connection-device-id", sender.deviceID.rawValue),
            UserProperty("iothub-connection-auth-method", sender.authMethod.rawValue),
            UserProperty("iothub-enqueuedtime", UTCTimestamp.string(milliseconds: enqueuedAt)),
            UserProperty("iothub-sequencenumber", String(sequence)),
        ]
        return DeviceTrafficOutcome(
            changes: [.appendTelemetry(stored)], route: message.with(retain: retains, appending: stamps))
    }
}
