import ArgumentParser
import Foundation
import WardenAPI

/// How a client command finds the server (`--url`/`WARDEN_URL`, else the data directory's `endpoint.json`)
/// and its credential: `WARDEN_TOKEN`, else the session `warden login` saved for that URL (refreshed when
/// its access token has expired), else the data directory's `admin.token`.
struct ClientOptions: ParsableArguments {
    @Option(help: "The data directory of a local server (default: $WARDEN_DATA_DIR or ./warden-data).")
    var dataDir: String?

    @Option(help: "The server's base URL (default: $WARDEN_URL, else the data directory's endpoint).")
    var url: String?

    @Option(help: "A PEM CA certificate to trust (default: $WARDEN_CA_FILE, else DATA_DIR/tls/ca.pem when present).")
    var caFile: String?

    @Flag(help: "Print JSON instead of tables.")
    var json = false

    var output: Output { Output(isJSON: json) }

    func makeClient() async throws -> APIClient {
        let environment = ProcessInfo.processInfo.environment
        let directory = dataDirectory
        let baseURL = try self.baseURL
        let caFile = caFile ?? environment["WARDEN_CA_FILE"] ?? Self.existing("\(directory)/tls/ca.pem")
        if let token = environment["WARDEN_TOKEN"] {
            return try APIClient(baseURL: baseURL, token: token, caFile: caFile)
        }
        if var session = SavedSession.load(for: baseURL) {
            if session.expiresAt < Date().addingTimeInterval(30) {
                let client = try APIClient(baseURL: baseURL, token: "", caFile: caFile)
                let grant: TokenResponse
                do {
                    grant = try await client.token(
                        form: ["grant_type": "refresh_token", "refresh_token": session.refreshToken])
                    await client.shutdown()
                } catch {
                    await client.shutdown()
                    throw error
                }
                session.accessToken = grant.accessToken
                session.refreshToken = grant.refreshToken ?? session.refreshToken
                session.expiresAt = Date().addingTimeInterval(TimeInterval(grant.expiresIn))
                try SavedSession.store(session, for: baseURL)
            }
            return try APIClient(baseURL: baseURL, token: session.accessToken, caFile: caFile)
        }
        return try APIClient(baseURL: baseURL, token: try Self.readToken(in: directory), caFile: caFile)
    }

    /// A client without a credential, for signing in.
    func makeAnonymousClient() throws -> APIClient {
        let environment = ProcessInfo.processInfo.environment
        let caFile = caFile ?? environment["WARDEN_CA_FILE"] ?? Self.existing("\(dataDirectory)/tls/ca.pem")
        return try APIClient(baseURL: try baseURL, token: "", caFile: caFile)
    }

    var dataDirectory: String {
        dataDir ?? ProcessInfo.processInfo.environment["WARDEN_DATA_DIR"] ?? "warden-data"
    }

    var baseURL: String {
        get throws {
            guard let url = url ?? ProcessInfo.processInfo.environment["WARDEN_URL"] ?? Self.endpoint(in: dataDirectory)
            else {
                throw CLIFailure(
                    "No server found: \(dataDirectory)/endpoint.json does not exist. Start one with 'warden serve', "
                        + "or pass --url.", exitCode: CLIExitCode.unreachable)
            }
            return url.hasSuffix("/") ? String(url.dropLast()) : url
        }
    }

    private static func endpoint(in directory: String) -> String? {
        struct Endpoint: Decodable { let url: String }
        guard let data = FileManager.default.contents(atPath: "\(directory)/endpoint.json") else { return nil }
        return try? JSONDecoder().decode(Endpoint.self, from: data).url
    }

    private static func readToken(in directory: String) throws -> String {
        let path = "\(directory)/admin.token"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIFailure(
                "No credential: run 'warden login', set WARDEN_TOKEN, or run where \(path) is readable.",
                exitCode: CLIExitCode.credential)
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func existing(_ path: String) -> String? {
        FileManager.default.fileExists(atPath: path) ? path : nil
    }
}

/// A failure the CLI reports as one line on stderr and an exit code.
struct CLIFailure: Error {
    let message: String
    let exitCode: ExitCode

    init(_ message: String, exitCode: ExitCode) {
        self.message = message
        self.exitCode = exitCode
    }
}
