import Foundation
import Testing
import WardenCore
import WardenPolicy

/// docs/policy.md shows whole documents in its YAML blocks: each is one the engine accepts, so an example
/// never teaches a field that does not exist.
struct DocumentationExampleTests {
    static func yamlBlocks() throws -> [String] {
        let docs = URL(filePath: #filePath).deletingLastPathComponent().appending(path: "../../docs/policy.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        return text.components(separatedBy: "```yaml\n").dropFirst().compactMap {
            $0.components(separatedBy: "```").first
        }
    }

    @Test func everyYAMLExampleIsAcceptedAndDecides() throws {
        let blocks = try Self.yamlBlocks()
        #expect(blocks.count >= 8)
        let device = PolicyRequestor(
            tenantID: .defaultTenant,
            kind: .device(.init(id: try DeviceID("unit-1"), attributes: ["kind": "vehicle", "role": "monitor"])))
        for block in blocks {
            let document = try PolicyDocument(text: Array(block.utf8))
            #expect(!document.statements.isEmpty, "\(block)")
            _ = PolicyEngine(document).decide(device, .connect, nil, in: PolicyContext())
        }
    }

    /// The geo-fence example: inside the networks and the fence a vehicle connects; outside either, or under
    /// `strict` before it reports a region, it does not.
    @Test func theGeoFenceDecidesAsDescribed() throws {
        let fence = try #require(try Self.yamlBlocks().first { $0.contains("inside-the-fence") })
        let engine = PolicyEngine(try PolicyDocument(text: Array(fence.utf8)))
        let vehicle = PolicyRequestor(
            tenantID: .defaultTenant, kind: .device(.init(id: try DeviceID("truck-1"), attributes: ["kind": "vehicle"]))
        )
        func connects(_ address: String, _ region: String?) throws -> Bool {
            var context = PolicyContext(peerAddress: try #require(IPAddress(address)))
            context.reported = region.map { ["location": ["region": .string($0)]] } ?? .object([:])
            return engine.decide(vehicle, .connect, nil, in: context).isAllowed
        }
        #expect(try connects("10.20.3.4", "rhine-depot"))
        #expect(try !connects("192.0.2.1", "rhine-depot"))
        #expect(try !connects("10.20.3.4", "open-sea"))
        #expect(try !connects("10.20.3.4", nil))
    }
}
