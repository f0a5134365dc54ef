import ArgumentParser
import Foundation

/// How a client command finds the server: `--url`/`WARDEN_URL` and `WARDEN_TOKEN`, or the data directory
/// a local server wrote (`endpoint.json`, `admin.token`, `tls/ca.pem`).
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

    func makeClient() throws -> APIClient {
        let environment = ProcessInfo.processInfo.environment
        let directory = dataDir ?? environment["WARDEN_DATA_DIR"] ?? "warden-data"
        guard let baseURL = url ?? environment["WARDEN_URL"] ?? Self.endpoint(in: directory) else {
            throw CLIFailure(
                "No server found: \(directory)/endpoint.json does not exist. Start one with 'warden serve', "
                    + "or pass --url and set WARDEN_TOKEN.", exitCode: CLIExitCode.unreachable)
        }
        let token = try environment["WARDEN_TOKEN"] ?? Self.readToken(in: directory)
        let caFile = caFile ?? environment["WARDEN_CA_FILE"] ?? Self.existing("\(directory)/tls/ca.pem")
        return try APIClient(baseURL: baseURL, token: token, caFile: caFile)
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
                "No credential: set WARDEN_TOKEN, or run where \(path) is readable.", exitCode: CLIExitCode.credential)
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
