import Foundation
import Testing

@testable import WardenServer

/// docs/configuration.md documents exactly the keys `warden serve` reads (STYLE R10.1), no more, no fewer.
struct ConfigurationDocumentationTests {
    @Test func everyKeyIsDocumentedAndEveryDocumentedKeyExists() throws {
        let docs = URL(filePath: #filePath).deletingLastPathComponent().appending(path: "../../docs/configuration.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        // The key table ends where the variables that are not keys begin.
        let keyTable = try #require(text.components(separatedBy: "Not configuration keys").first)
        let documented = Set(
            keyTable.split(separator: "\n").compactMap { line in
                line.firstMatch(of: #/^\| `([a-z0-9.-]+)` \| /#).map { String($0.output.1) }
            })
        let keys = Set(ServerConfiguration.keys.map(\.name))
        #expect(keys.subtracting(documented).isEmpty, "undocumented: \(keys.subtracting(documented).sorted())")
        #expect(
            documented.subtracting(keys).isEmpty, "documented but unknown: \(documented.subtracting(keys).sorted())")
    }

    @Test func plainListenerStaysOnLoopbackAndAnonymousNeverLeavesIt() async throws {
        let nonLoopback = ["mqtt.plain.enabled": "true", "mqtt.plain.address": "192.0.2.1"]
        await #expect(throws: (any Error).self) {
            try await ServerConfiguration.load(flags: nonLoopback, environment: [:], file: nil)
        }
        var allowed = nonLoopback
        allowed["mqtt.plain.allow-non-loopback"] = "true"
        let configuration = try await ServerConfiguration.load(flags: allowed, environment: [:], file: nil)
        #expect(configuration.mqtt.plain.address == "192.0.2.1")
        allowed["mqtt.plain.anonymous"] = "subscribe"
        await #expect(throws: (any Error).self) {
            try await ServerConfiguration.load(flags: allowed, environment: [:], file: nil)
        }
    }
}
