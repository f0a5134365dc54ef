import Testing
import WardenCore

struct CIDRTests {
    @Test(arguments: [
        ("10.0.0.0/8", "10.255.1.2", true), ("10.0.0.0/8", "11.0.0.1", false), ("192.168.1.7", "192.168.1.7", true),
        ("0.0.0.0/0", "8.8.8.8", true), ("2001:db8::/32", "2001:db8:1::5", true),
        ("2001:db8::/32", "2001:db9::1", false),
        ("::/0", "::1", true), ("10.0.0.0/8", "::ffff:10.1.2.3", true), ("0.0.0.0/0", "::1", false),
        ("172.16.0.0/12", "172.31.255.255", true), ("172.16.0.0/12", "172.32.0.0", false),
    ])
    func contains(_ block: String, _ address: String, _ expected: Bool) throws {
        let ip = try #require(IPAddress(address))
        #expect(try CIDR(block).contains(ip) == expected)
    }

    @Test(arguments: [
        "10.0.0.1/8", "300.1.1.1", "10.0.0.0/33", "2001:db8::/129", "abc", "10.0.0.0/", "10.0.0.0/8/9", "::/-1",
    ])
    func rejects(_ text: String) {
        #expect(throws: WardenError(.cidrInvalid, "")) { try CIDR(text) }
    }

    @Test func printsCanonicalForm() throws {
        #expect(try CIDR("2001:0db8:0000::/32").description == "2001:db8::/32")
        #expect(try CIDR("192.168.0.1").description == "192.168.0.1/32")
    }
}
