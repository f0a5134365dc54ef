import ArgumentParser
import Foundation
import NIOHTTP1
import WardenAPI

#if canImport(Glibc)
    import Glibc
#endif

/// `warden login` and `warden logout`: a user's session, kept in the config directory with mode 0600.
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Sign in as a user and keep the session for the other commands.",
        discussion: """
            The session (a 15-minute access token and a refresh token that renews it) is written to
            $WARDEN_CONFIG_DIR, else $XDG_CONFIG_HOME/warden, else ~/.config/warden, as sessions.json with mode
            0600. Commands use it for the same server URL unless WARDEN_TOKEN is set.
            """)

    @Argument(help: "The username (asked for when not given).") var username: String?
    @Flag(help: "Read the password from the first line of standard input instead of asking.") var passwordStdin = false
    @Option(help: "The TOTP code, when the user has a second factor (asked for when needed).") var totp: String?
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await APIClient.run(client, anonymous: true) { api, output in
            let name = try username ?? Prompt.line("Username: ")
            let password = try passwordStdin ? Prompt.standardInputLine() : Prompt.secret("Password: ")
            var body: [String: Any] = ["username": name, "password": password]
            if let totp { body["totp"] = totp }
            var data: Data
            do {
                data = try await api.send(.POST, "/api/v1/auth/signin", body: body)
            } catch let failure as CLIFailure where failure.message.contains("auth.totp_required") && totp == nil {
                body["totp"] = try Prompt.line("TOTP code: ")
                data = try await api.send(.POST, "/api/v1/auth/signin", body: body)
            }
            let grant = try api.decode(TokenResponse.self, data)
            let url = try client.baseURL
            try SavedSession.store(
                SavedSession(
                    url: url, username: name, accessToken: grant.accessToken, refreshToken: grant.refreshToken ?? "",
                    expiresAt: Date().addingTimeInterval(TimeInterval(grant.expiresIn))), for: url)
            output.line("Signed in to \(url) as \(name).")
            if grant.mustChangePassword == true {
                output.line("This password was generated: choose your own with 'warden user password'.")
            }
        }
    }
}

struct LogoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logout", abstract: "End the saved session for this server and forget it.")
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let url = try client.baseURL
        guard let session = SavedSession.load(for: url) else {
            client.output.line("No saved session for \(url).")
            return
        }
        try await APIClient.run(client, anonymous: true) { api, output in
            _ = try await api.send(.POST, "/api/v1/auth/signout", body: ["refresh_token": session.refreshToken])
            try SavedSession.store(nil, for: url)
            output.line("Signed out of \(url).")
        }
    }
}

/// Reading what the user types.
enum Prompt {
    static func line(_ prompt: String) throws -> String {
        Output.write(Data(prompt.utf8), to: .standardError)
        guard let line = readLine(), !line.isEmpty else {
            throw CLIFailure("Nothing was entered.", exitCode: CLIExitCode.invalidInput)
        }
        return line
    }

    /// The first line of standard input (for `--password-stdin`).
    static func standardInputLine() throws -> String {
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            throw CLIFailure("Standard input held no password.", exitCode: CLIExitCode.invalidInput)
        }
        return line
    }

    /// A line typed without echo.
    static func secret(_ prompt: String) throws -> String {
        guard let pointer = getpass(prompt) else {
            throw CLIFailure("Cannot read a password here; use --password-stdin.", exitCode: CLIExitCode.invalidInput)
        }
        let text = String(cString: pointer)
        guard !text.isEmpty else { throw CLIFailure("No password was entered.", exitCode: CLIExitCode.invalidInput) }
        return text
    }
}
