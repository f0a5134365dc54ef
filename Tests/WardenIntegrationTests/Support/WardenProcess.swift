import Foundation
import Synchronization

/// The built `warden` binary started as a child process in a temporary data directory, with stdout and stderr
/// captured line by line.
final class WardenProcess: Sendable {
    /// Where `swift build` put the binary (override with WARDEN_BINARY).
    static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["WARDEN_BINARY"] { return path }
        let root = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return root.appending(path: ".build/debug/warden").path
    }()

    let process: Process
    let dataDirectory: String
    private let output = CapturedOutput()

    /// Runs `warden ARGUMENTS` (not waiting for it).
    init(_ arguments: [String], dataDirectory: String, environment: [String: String] = [:]) throws {
        self.dataDirectory = dataDirectory
        process = Process()
        process.executableURL = URL(filePath: Self.binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(filePath: dataDirectory).deletingLastPathComponent()
        var inherited = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("WARDEN_") }
        inherited.merge(environment) { $1 }
        process.environment = inherited
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        stdout.fileHandleForReading.readabilityHandler = { [output] handle in
            let text = String(decoding: handle.availableData, as: UTF8.self)
            output.text.withLock { $0.stdout += text }
        }
        stderr.fileHandleForReading.readabilityHandler = { [output] handle in
            let text = String(decoding: handle.availableData, as: UTF8.self)
            output.text.withLock { $0.stderr += text }
        }
        try process.run()
    }

    var standardOutput: String { output.text.withLock { $0.stdout } }
    var standardError: String { output.text.withLock { $0.stderr } }

    /// Waits (at most `timeout`) until `condition` holds for the captured stdout, or the process exits.
    func waitForOutput(timeout: Duration = .seconds(60), _ condition: (String) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(standardOutput) { return true }
            if !process.isRunning { return condition(standardOutput) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Waits for the process to exit and returns its status.
    func waitForExit(timeout: Duration = .seconds(60)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        guard !process.isRunning else { return nil }
        try? await Task.sleep(for: .milliseconds(50))  // let the pipes drain
        return process.terminationStatus
    }

    /// SIGTERM, then the exit status.
    func stop() async -> Int32? {
        if process.isRunning { process.terminate() }
        return await waitForExit()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// A fresh temporary folder holding a data directory path (not yet created).
func makeDataDirectory() throws -> String {
    let folder = FileManager.default.temporaryDirectory.appending(path: "warden-it-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder.appending(path: "warden-data").path
}

/// What a child process wrote, shared with the pipes' handlers.
final class CapturedOutput: Sendable {
    let text = Mutex<(stdout: String, stderr: String)>(("", ""))
}
