import Foundation
import NIOCore
import Testing
import WardenCore

@testable import WardenCluster

/// Another node's announcement of a device it follows, as read from NATS: its identity and a feed subject,
/// nothing else.
struct ClusterFeedTests {
    @Test func anAnnouncementReadsBackAndAnythingElseIsRefused() throws {
        let subject = ClusterSubject.feed(.defaultTenant, try DeviceID("meter.1=x"))
        #expect(subject == "warden.feed.d.default.meter~2E1~3Dx")
        let interest = ClusterFeed.Interest(origin: UUID(), subject: subject)
        #expect(ClusterFeed.Interest(decoding: interest.encoded) == interest)

        var short = ByteBuffer(bytes: [UInt8](repeating: 1, count: 16))
        #expect(ClusterFeed.Interest(decoding: short) == nil, "an identity alone")
        short.writeString("warden.msg.default.x")
        #expect(ClusterFeed.Interest(decoding: short) == nil, "not a feed subject")
        var long = ByteBuffer(bytes: [UInt8](repeating: 1, count: 16))
        long.writeString(ClusterSubject.feedPrefix + String(repeating: "a", count: ClusterSubject.maximumBytes))
        #expect(ClusterFeed.Interest(decoding: long) == nil, "longer than a subject")
        var invalid = ByteBuffer(bytes: [UInt8](repeating: 1, count: 16))
        invalid.writeBytes(Array(ClusterSubject.feedPrefix.utf8) + [0xFF, 0xFE])
        #expect(ClusterFeed.Interest(decoding: invalid) == nil, "not UTF-8")
    }
}
