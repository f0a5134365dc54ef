import Testing
import WardenCore
import WardenStore

struct PostgreSQLSettingsTests {
    @Test func aFullURLIsRead() throws {
        let settings = try PostgreSQLSettings(
            url: "postgres://warden:p%40ss%2Fword@db.example:6432/hub?sslmode=verify-ca&sslrootcert=/etc/ca.pem",
            poolSize: 8)
        #expect(settings.host == "db.example")
        #expect(settings.port == 6432)
        #expect(settings.username == "warden")
        #expect(settings.password?.bytes == Array("p@ss/word".utf8))
        #expect(settings.database == "hub")
        #expect(settings.tls == .verifyCA)
        #expect(settings.rootCertificate == "/etc/ca.pem")
        #expect(settings.poolSize == 8)
    }

    @Test func tlsIsVerifiedByDefault() throws {
        let settings = try PostgreSQLSettings(url: "postgresql://warden@localhost/warden")
        #expect(settings.tls == .verifyFull)
        #expect(settings.port == 5432)
        #expect(settings.password == nil)
    }

    @Test(arguments: [
        "", "warden", "http://warden@localhost/warden", "postgres://localhost/warden", "postgres://warden@/warden",
        "postgres://warden@localhost", "postgres://warden@localhost/", "postgres://warden@localhost/a/b",
        "postgres://warden@localhost/warden?sslmode=require", "postgres://warden@localhost/warden?sslmode=prefer",
        "postgres://warden@localhost/warden?sslmode=", "postgres://warden@localhost/warden?options=-c%20x",
        "postgres://warden:secret-password@localhost:99999999999999999999/warden", "postgres://warden@[::1/warden",
        "postgres://warden@localhost:0/warden", "postgres://warden@localhost:65536/warden",
        "postgres://warden@db.example/warden?sslmode=disable",
    ])
    func unusableURLsAreRefusedWithoutThePassword(url: String) {
        #expect {
            _ = try PostgreSQLSettings(url: url)
        } throws: { error in
            guard let error = error as? WardenError else { return false }
            return error.code == .storeUnusable && !error.reason.contains("secret-password")
        }
    }

    @Test(arguments: [0, -1, 1_001, Int.max, Int.min]) func poolSizesOutOfRangeAreRefused(size: Int) {
        #expect(throws: WardenError(.storeUnusable, "")) {
            _ = try PostgreSQLSettings(url: "postgres://warden@localhost/warden", poolSize: size)
        }
    }
}
