import Foundation
import NIOCore
import Testing
import WardenAuthentication
import WardenCore
import WardenMQTT

@testable import WardenBroker

/// What a connection tells the Defender about its device's interval: topics are told apart by their bytes, as MQTT
/// and the policy tell them apart, so a device cannot hide a new topic behind a canonically equal spelling.
struct ActivityTallyTests {
    @Test func canonicallyEqualTopicsAreTwoTopics() throws {
        let start = NIODeadline.now()
        var tally = ActivityTally(since: start)
        for topic in ["t/K", "t/\u{212A}", "t/K", "devices/d/messages/events/a=1", "devices/d/messages/events/b=2"] {
            tally.count(PublishPacket(qos: .atMostOnce, topic: topic, payload: ByteBuffer(string: "12345")))
        }
        let device = DeviceIdentity(tenantID: .defaultTenant, deviceID: try DeviceID("d"), method: .sas, expiry: nil)
        let activity = tally.sample(of: device, at: start + .seconds(10), date: Date())
        #expect(activity.messages == 5 && activity.bytes == 25 && activity.largestPayload == 5)
        #expect(
            activity.topics.map { Array($0.utf8) }
                == ["t/K", "t/\u{212A}", "devices/d/messages/events/"].map { Array($0.utf8) })
        #expect(!activity.moreTopics && activity.seconds == 10)
    }
}
