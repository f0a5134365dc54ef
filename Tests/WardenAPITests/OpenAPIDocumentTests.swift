import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
import WardenAPI
import WardenCore

struct OpenAPIDocumentTests {
    static let publicPaths: Set<String> = [
        "/healthz", "/readyz", APIRouter.openAPIPath, "/api/v1/auth/signin", "/api/v1/auth/signout", "/oauth/token",
    ]

    /// Public to bearer authentication: the health routes and the document, the HTTPS device API, whose
    /// routes authenticate the device themselves (a SAS token in `Authorization`), and the PKI's CRLs and OCSP.
    static func isPublic(_ path: String) -> Bool {
        publicPaths.contains(path) || path.hasPrefix("/devices/") || path.hasPrefix("/pki/")
            || path.hasPrefix("/{idScope}/registrations/")
    }

    private func document(_ fixture: APIFixture) async throws -> JSONValue {
        let document = Mutex<JSONValue?>(nil)
        try await fixture.test { client in
            try await client.execute(uri: APIRouter.openAPIPath, method: .get) { response in
                #expect(response.status == .ok)
                let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(response.body.readableBytesView))
                document.withLock { $0 = decoded }
            }
        }
        return try #require(document.withLock { $0 })
    }

    @Test func listsEveryRouteAndOnlyThose() async throws {
        let fixture = try await APIFixture()
        let document = try await document(fixture)
        #expect(document["openapi"] == "3.1.0")
        guard case .object(let paths)? = document["paths"] else {
            Issue.record("no paths")
            return
        }
        var documented = Set<String>()
        for (path, item) in paths {
            guard case .object(let operations) = item else { continue }
            for method in operations.keys { documented.insert("\(method.uppercased()) \(path)") }
        }
        let routed = Set(fixture.router.routes.map { "\($0.method.rawValue) \($0.path)" })
        #expect(documented == routed)
    }

    /// Every `$ref` in the document names a schema it defines, and every defined schema is used.
    @Test func everySchemaReferenceResolves() async throws {
        let fixture = try await APIFixture()
        let document = try await document(fixture)
        guard case .object(let schemas)? = document["components"]?["schemas"] else {
            Issue.record("no schemas")
            return
        }
        var references = Set<String>()
        func collect(_ value: JSONValue) {
            switch value {
            case .object(let members):
                if case .string(let reference)? = members["$ref"] {
                    references.insert(String(reference.dropFirst("#/components/schemas/".count)))
                }
                members.values.forEach(collect)
            case .array(let items): items.forEach(collect)
            default: break
            }
        }
        collect(document)
        #expect(references.subtracting(schemas.keys).isEmpty, "\(references.subtracting(schemas.keys).sorted())")
        #expect(
            Set(schemas.keys).subtracting(references).isEmpty, "\(Set(schemas.keys).subtracting(references).sorted())")
    }

    /// Every documented operation answers on the live router: protected ones with 401 (not 404) when no
    /// credential is sent, public ones without one.
    @Test func everyDocumentedPathIsRouted() async throws {
        let fixture = try await APIFixture()
        let document = try await document(fixture)
        guard case .object(let paths)? = document["paths"] else {
            Issue.record("no paths")
            return
        }
        try await fixture.test { client in
            for (path, item) in paths {
                guard case .object(let operations) = item else { continue }
                let concrete = path.replacing(/\{[a-z]+\}/, with: "x")
                for method in operations.keys {
                    try await client.execute(uri: concrete, method: .init(rawValue: method.uppercased())!) { response in
                        if Self.isPublic(path) {
                            // Routed: a 404 here is about the thing named (no CA "x"), not the route.
                            #expect(response.problem?.code != "route.not_found", "\(method) \(path)")
                        } else {
                            #expect(response.status == .unauthorized, "\(method) \(path)")
                        }
                    }
                }
            }
        }
    }

    @Test func everyRouteButThePublicOnesDeclaresAPermission() async throws {
        let fixture = try await APIFixture()
        for route in fixture.router.routes {
            #expect((route.permission == nil) == Self.isPublic(route.path), "\(route.method) \(route.path)")
        }
    }
}
