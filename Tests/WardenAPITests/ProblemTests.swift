import Foundation
import HTTPTypes
import Testing
import WardenAPI
import WardenCore

struct ProblemTests {
    @Test(arguments: [
        (WardenError.Kind.invalidInput, 400), (.unauthenticated, 401), (.forbidden, 403), (.notFound, 404),
        (.conflict, 409),
        (.preconditionFailed, 412), (.tooLarge, 413), (.limitExceeded, 429), (.internal, 500), (.unavailable, 503),
    ])
    func kindsMapToStatuses(_ kind: WardenError.Kind, _ status: Int) {
        #expect(Problem.status(for: kind).code == status)
    }

    @Test func bodyCarriesTheCodeAndReference() throws {
        let problem = Problem(WardenError(.deviceNotFound, "There is no device 'x'."), referenceID: "ref-1")
        #expect(problem.type == "urn:warden:error:device.not_found")
        #expect(problem.status == 404 && problem.code == "device.not_found" && problem.referenceID == "ref-1")
        let json = String(decoding: try JSONEncoder().encode(problem), as: UTF8.self)
        #expect(json.contains("\"referenceId\""))
    }

    /// docs/errors.md lists exactly the codes in `WardenError.Code.all` (STYLE R5.2), and the codes are unique.
    @Test func errorCatalogueMatchesTheDocs() throws {
        let docs = URL(filePath: #filePath).deletingLastPathComponent().appending(path: "../../docs/errors.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let documented = Set(
            text.matches(of: /^\| `([a-z0-9_.]+)` \|/.anchorsMatchLineEndings()).map { String($0.output.1) })
        let declared = WardenError.Code.all.map(\.name)
        #expect(Set(declared).count == declared.count)
        #expect(documented == Set(declared))
        let catalogue = URL(filePath: #filePath).deletingLastPathComponent()
            .appending(path: "../../Sources/WardenCore/Errors/WardenError+Catalog.swift")
        let source = try String(contentsOf: catalogue, encoding: .utf8)
        let defined = Set(source.matches(of: /Self\("([a-z0-9_.]+)"/).map { String($0.output.1) })
        #expect(defined == Set(declared), "every code defined in the catalogue is listed in `all`")
    }
}
