import Foundation

/// Everything the CLI writes: tables and lines for people on stdout, JSON for scripts, errors on stderr.
struct Output {
    let isJSON: Bool

    func json(_ data: Data) {
        Self.write(data + Data("\n".utf8), to: .standardOutput)
    }

    /// A value as JSON (lists the CLI gathered over several pages).
    func json(encoding value: some Encodable) throws {
        json(try JSONEncoderFactory.make().encode(value))
    }

    func line(_ text: String) {
        Self.write(Data((text + "\n").utf8), to: .standardOutput)
    }

    /// Text as it is (a PEM document ends with its own newline).
    func text(_ text: String) {
        Self.write(Data(text.utf8), to: .standardOutput)
    }

    static func error(_ text: String) {
        write(Data(("warden: " + text + "\n").utf8), to: .standardError)
    }

    /// Writes without trapping (`FileHandle.write(_:)` traps on any error): a reader that went away
    /// (`warden … | head`) ends the command quietly, as SIGPIPE would; any other failure says so and exits 74.
    static func write(_ data: Data, to handle: FileHandle) {
        do {
            try handle.write(contentsOf: data)
        } catch {
            let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
            // total: EPIPE is a small errno constant.
            if underlying?.domain == NSPOSIXErrorDomain, underlying?.code == Int(EPIPE) { exit(0) }
            if handle !== FileHandle.standardError {
                try? FileHandle.standardError.write(
                    contentsOf: Data("warden: cannot write the output: \(error)\n".utf8))
            }
            exit(74)
        }
    }

    /// A file the user named; `Cannot read FILE.` (exit 66) when it cannot be read.
    static func contents(of file: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: file) else {
            error("Cannot read \(file).")
            throw CLIExitCode.notFound
        }
        return data
    }

    /// A left-aligned table with a header row.
    func table(_ headers: [String], _ rows: [[String]]) {
        let widths = headers.indices.map { column in
            ([headers[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        // Trailing spaces go; leading ones stay, so that a row whose first cells are empty keeps its columns.
        func render(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ").replacingOccurrences(of: " +$", with: "", options: .regularExpression)
        }
        line(render(headers))
        for row in rows { line(render(row)) }
        if rows.isEmpty { line("(none)") }
    }

    /// `key: value` lines.
    func fields(_ pairs: [(String, String)]) {
        let width = pairs.map(\.0.count).max() ?? 0
        for (key, value) in pairs {
            line((key + ":").padding(toLength: width + 1, withPad: " ", startingAt: 0) + " " + value)
        }
    }
}
