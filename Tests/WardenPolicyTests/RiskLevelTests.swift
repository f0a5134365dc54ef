import Testing
import WardenCore
import WardenPolicy

/// `risk-levels` conditions: the Defender's lever. Every request is `normal` until something raises a device.
struct RiskLevelTests {
    @Test func aRaisedRiskConfinesTheDevice() throws {
        let document = try PolicyDocument(
            json: Array(
                #"""
                {"include-default": false, "statements": [
                  {"id": "trusted", "effect": "allow", "principals": {"devices": ["*"]}, "actions": ["publish"],
                   "resources": ["devices/${device.id}/#"], "conditions": {"risk-levels": ["normal"]}},
                  {"id": "quarantine", "effect": "allow", "principals": {"devices": ["*"]}, "actions": ["publish"],
                   "resources": ["devices/${device.id}/twin/#"], "conditions": {"risk-levels": ["elevated", "high"]}}
                ]}
                """#.utf8))
        let engine = PolicyEngine(document)
        let device = PolicyRequestor(tenantID: .defaultTenant, kind: .device(.init(id: try DeviceID("d"))))
        func decide(_ topic: String, _ risk: RiskLevel) -> PolicyDecision {
            engine.decide(device, .publish, .topic(topic), in: PolicyContext(risk: risk))
        }
        #expect(decide("devices/d/telemetry", .normal).statementID == "trusted")
        #expect(!decide("devices/d/telemetry", .elevated).isAllowed)
        #expect(decide("devices/d/twin/x", .high).statementID == "quarantine")
        #expect(!decide("devices/d/twin/x", .critical).isAllowed)
        #expect(decide("devices/d/telemetry", .high).reasons.contains { $0.contains("risk level 'high'") })
        #expect(throws: WardenError.self) {
            _ = try PolicyDocument(
                json: Array(
                    #"{"statements": [{"id": "x", "effect": "allow", "principals": {"devices": ["*"]}, "actions": ["connect"], "conditions": {"risk-levels": ["calm"]}}]}"#
                        .utf8))
        }
    }
}
