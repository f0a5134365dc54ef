import Foundation
import Logging
import NIOCore
import Testing
import WardenAzure
import WardenCore
import WardenMQTT
import WardenStore

@testable import WardenBroker
@testable import WardenHub

/// What a device PUBLISH on its telemetry topic becomes: a stamped, stored message and a routed one.
struct TelemetryIngestTests {
    struct FixedClock: WardenClock {
        func now() -> Date { Date(timeIntervalSince1970: 1_795_000_000.123) }
    }

    let tenant = TenantID.defaultTenant
    let device: DeviceID
    let ingest = TelemetryIngest(lastSequence: 41, clock: FixedClock(), logger: Logger(label: "test"))

    init() throws {
        device = try DeviceID("meter-1")
    }

    func sender(_ dialect: DeviceDialect = .azure) -> DeviceSender {
        DeviceSender(tenantID: tenant, deviceID: device, authMethod: .sas, dialect: dialect)
    }

    func message(_ topic: String, retain: Bool = false, properties: Properties = Properties()) -> BrokerMessage {
        BrokerMessage(
            topic: topic, payload: ByteBuffer(string: "{\"t\":21.5}"), qos: .atLeastOnce, retain: retain,
            properties: properties, receivedAt: .now(), publisher: nil)
    }

    func stored(_ outcome: DeviceTrafficOutcome) -> TelemetryMessage? {
        guard case .appendTelemetry(let message) = outcome.changes.first else { return nil }
        return message
    }

    @Test func aMessageIsStampedStoredAndRoutedWithItsStamps() throws {
        let topic = "devices/meter-1/messages/events/%24.mid=m1&alert=high"
        let outcome = ingest.ingest(message(topic), bag: "%24.mid=m1&alert=high", from: sender(), isWill: false)
        let first = try #require(stored(outcome))
        #expect(first.sequenceNumber == 42)
        #expect(first.tenantID == tenant && first.deviceID == device && first.authMethod == .sas)
        #expect(first.enqueuedAtMilliseconds == 1_795_000_000_123)
        #expect(first.properties == "%24.mid=m1&alert=high")
        #expect(first.body == Array("{\"t\":21.5}".utf8))
        let routed = try #require(outcome.route)
        #expect(routed.topic == topic && !routed.retain)
        let stamps = Dictionary(uniqueKeysWithValues: routed.properties.userProperties.map { ($0.name, $0.value) })
        #expect(stamps["iothub-sequencenumber"] == "42")
        #expect(stamps["iothub-enqueuedtime"] == "2026-11-18T11:06:40.123Z")
        #expect(stamps["iothub-connection-device-id"] == "meter-1")
        #expect(stamps["iothub-connection-auth-method"] == "sas")
        let next = try #require(stored(ingest.ingest(message(topic), bag: "", from: sender(), isWill: false)))
        #expect(next.sequenceNumber == 43)
    }

    @Test func aWillBecomesTelemetryMarkedWill() throws {
        let outcome = ingest.ingest(
            message("devices/meter-1/messages/events/"), bag: "", from: sender(), isWill: true)
        #expect(try #require(stored(outcome)).properties == "iothub-MessageType=Will")
        #expect(outcome.route?.properties.userProperties.contains(UserProperty("iothub-MessageType", "Will")) == true)
    }

    @Test func retainBecomesAPropertyInTheAzureDialectOnly() throws {
        let azure = ingest.ingest(
            message("devices/meter-1/messages/events/k=v", retain: true), bag: "k=v", from: sender(), isWill: false)
        #expect(try #require(stored(azure)).properties == "k=v&mqtt-retain=true")
        #expect(azure.route?.retain == false)
        let plain = ingest.ingest(
            message("devices/meter-1/messages/events/", retain: true), bag: "", from: sender(.plain), isWill: false)
        #expect(try #require(stored(plain)).properties == "")
        #expect(plain.route?.retain == true)
    }

    @Test func mqtt5ContentTypeAndUserPropertiesJoinTheBag() throws {
        var properties = Properties()
        properties.contentType = "application/json"
        properties.userProperties = [UserProperty("site", "north hall")]
        let outcome = ingest.ingest(
            message("devices/meter-1/messages/events/", properties: properties), bag: "", from: sender(),
            isWill: false)
        #expect(try #require(stored(outcome)).properties == "$.ct=application%2Fjson&site=north%20hall")
    }

    @Test func aBagThatDoesNotParseIsRefusedAndNothingIsStored() {
        let outcome = ingest.ingest(
            message("devices/meter-1/messages/events/a=%zz"), bag: "a=%zz", from: sender(), isWill: false)
        #expect(outcome.refusal != nil && outcome.changes.isEmpty && outcome.route == nil)
    }
}
