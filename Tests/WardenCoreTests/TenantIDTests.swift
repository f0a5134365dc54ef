import Testing
import WardenCore

struct TenantIDTests {
    @Test(arguments: ["default", "acme", "a-1", "x"])
    func acceptsDNSLabels(_ id: String) throws {
        #expect(try TenantID(id).rawValue == id)
    }

    @Test(arguments: ["", "Acme", "-acme", "acme-", "a.b", "a_b", String(repeating: "a", count: 64)])
    func rejectsOtherForms(_ id: String) {
        #expect(throws: WardenError(.tenantInvalidID, "")) { try TenantID(id) }
    }

    @Test func hostNamesAreLowerCasedAndChecked() throws {
        #expect(try HostName("Hub.Example.COM").rawValue == "hub.example.com")
        #expect(throws: WardenError(.tenantInvalidHostName, "")) { try HostName("bad..name") }
        #expect(throws: WardenError(.tenantInvalidHostName, "")) { try HostName("-x.example") }
    }
}
