import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import WardenAPI

/// What testssl.sh and RFC 9110 ask of every answer of the HTTPS port.
struct TransportSecurityTests {
    @Test func everyAnswerCarriesStrictTransportSecurity() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            for (uri, headers, status) in [
                ("/healthz", HTTPFields(), 200), ("/signin", [:], 200), ("/api/v1/tenants", [:], 401),
                ("/api/v1/tenants", .admin, 200), ("/api/v1/tenants/nope", .admin, 404),
            ] {
                try await client.execute(uri: uri, method: .get, headers: headers) { response in
                    #expect(response.status.code == status, "\(uri)")
                    #expect(response.headers[.strictTransportSecurity] == "max-age=31536000", "\(uri)")
                    #expect(response.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff", "\(uri)")
                }
            }
        }
    }

    @Test func headIsAnsweredWhereverGetIsWithoutABody() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            for (uri, headers) in [
                ("/signin", HTTPFields()), ("/api/v1/openapi.json", [:]), ("/api/v1/tenants", .admin),
            ] {
                let length = try await client.execute(uri: uri, method: .get, headers: headers) { response in
                    response.body.readableBytes
                }
                try await client.execute(uri: uri, method: .head, headers: headers) { response in
                    #expect(response.status.code == 200, "\(uri)")
                    #expect(response.body.readableBytes == 0, "\(uri)")
                    // RFC 9110 §9.3.2: the same header fields as GET, though Content-Length may be left out.
                    #expect([nil, String(length)].contains(response.headers[.contentLength]), "\(uri)")
                }
            }
        }
    }
}
