import ArgumentParser
import WardenCore

/// The documented exit codes (`warden --help`, docs/cli.md), one mapping from error kinds.
enum CLIExitCode {
    static let unexpected = ExitCode(1)
    static let invalidInput = ExitCode(65)
    static let notFound = ExitCode(66)
    static let conflict = ExitCode(67)
    static let unreachable = ExitCode(69)
    static let serverError = ExitCode(70)
    static let credential = ExitCode(77)
    static let configuration = ExitCode(78)

    static func code(for kind: WardenError.Kind) -> ExitCode {
        switch kind {
        case .invalidInput, .tooLarge, .limitExceeded: invalidInput
        case .notFound: notFound
        case .conflict, .preconditionFailed: conflict
        case .unauthenticated, .forbidden: credential
        case .unavailable, .timeout: unreachable
        case .internal: serverError
        }
    }
}
