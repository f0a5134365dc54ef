import Foundation

/// The session `warden login` keeps: one per server URL, in the user's config directory
/// (`$WARDEN_CONFIG_DIR`, else `$XDG_CONFIG_HOME/warden`, else `~/.config/warden`), mode 0600.
struct SavedSession: Codable {
    var url: String
    var username: String
    var accessToken: String
    var refreshToken: String
    var expiresAt: Date

    static var directory: String {
        let environment = ProcessInfo.processInfo.environment
        if let directory = environment["WARDEN_CONFIG_DIR"] { return directory }
        let base = environment["XDG_CONFIG_HOME"] ?? (NSHomeDirectory() + "/.config")
        return base + "/warden"
    }

    static var path: String { directory + "/sessions.json" }

    /// Every saved session, by URL.
    static func all() -> [String: SavedSession] {
        guard let data = FileManager.default.contents(atPath: path) else { return [:] }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return (try? decoder.decode([String: SavedSession].self, from: data)) ?? [:]
    }

    static func load(for url: String) -> SavedSession? { all()[url] }

    /// Writes (or with nil removes) the session for `url`; the folder is 0700 and the file 0600.
    static func store(_ session: SavedSession?, for url: String) throws {
        var sessions = all()
        sessions[url] = session
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let temporary = path + ".tmp"
            guard
                FileManager.default.createFile(
                    atPath: temporary, contents: try encoder.encode(sessions), attributes: [.posixPermissions: 0o600])
            else { throw CocoaError(.fileWriteUnknown) }
            // rename(2) replaces the old file atomically, or puts the first one in place.
            guard rename(temporary, path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            throw CLIFailure("Cannot write \(path): \(error).", exitCode: CLIExitCode.configuration)
        }
    }
}
