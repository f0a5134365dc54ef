import Foundation
import GRDB
import PostgresNIO
import WardenCore

/// A fetched row read by column name, whichever engine fetched it, so that turning rows into domain values is
/// written once for both. The type asked for picks the overload: `let name: String = try row.value("name")`.
protocol StoreRow {
    func value(_ column: String) throws -> String
    func value(_ column: String) throws -> String?
    func value(_ column: String) throws -> Int
    func value(_ column: String) throws -> Int?
    func value(_ column: String) throws -> Int64
    func value(_ column: String) throws -> Int64?
    func value(_ column: String) throws -> Bool
    func value(_ column: String) throws -> Double
    func value(_ column: String) throws -> Double?
    func value(_ column: String) throws -> Date
    func value(_ column: String) throws -> Date?
    func value(_ column: String) throws -> Data
    func value(_ column: String) throws -> Data?
}

extension Row: StoreRow {
    func value(_ column: String) throws -> String { try decode(forColumn: column) }
    func value(_ column: String) throws -> String? { try decode(forColumn: column) }
    func value(_ column: String) throws -> Int { try decode(forColumn: column) }
    func value(_ column: String) throws -> Int? { try decode(forColumn: column) }
    func value(_ column: String) throws -> Int64 { try decode(forColumn: column) }
    func value(_ column: String) throws -> Int64? { try decode(forColumn: column) }
    func value(_ column: String) throws -> Bool { try decode(forColumn: column) }
    func value(_ column: String) throws -> Double { try decode(forColumn: column) }
    func value(_ column: String) throws -> Double? { try decode(forColumn: column) }
    func value(_ column: String) throws -> Date { try decode(forColumn: column) }
    func value(_ column: String) throws -> Date? { try decode(forColumn: column) }
    func value(_ column: String) throws -> Data { try decode(forColumn: column) }
    func value(_ column: String) throws -> Data? { try decode(forColumn: column) }
}

extension PostgresRandomAccessRow: StoreRow {
    func value(_ column: String) throws -> String { try cell(column).decode(String.self) }
    func value(_ column: String) throws -> String? { try cell(column).decode(String?.self) }
    func value(_ column: String) throws -> Int { try cell(column).decode(Int.self) }
    func value(_ column: String) throws -> Int? { try cell(column).decode(Int?.self) }
    func value(_ column: String) throws -> Int64 { try cell(column).decode(Int64.self) }
    func value(_ column: String) throws -> Int64? { try cell(column).decode(Int64?.self) }
    func value(_ column: String) throws -> Bool { try cell(column).decode(Bool.self) }
    func value(_ column: String) throws -> Double { try cell(column).decode(Double.self) }
    func value(_ column: String) throws -> Double? { try cell(column).decode(Double?.self) }
    func value(_ column: String) throws -> Date { try cell(column).decode(Date.self) }
    func value(_ column: String) throws -> Date? { try cell(column).decode(Date?.self) }
    func value(_ column: String) throws -> Data { try cell(column).decode(Data.self) }
    func value(_ column: String) throws -> Data? { try cell(column).decode(Data?.self) }
}

extension PostgresRandomAccessRow {
    /// The cell of `column`, or an error: postgres-nio's subscript stops the process on a column the row lacks
    /// (a schema edited by hand, a select list out of step with its mapper).
    fileprivate func cell(_ column: String) throws -> PostgresCell {
        guard contains(column) else {
            throw WardenError(.storeUnusable, "A stored row lacks the column '\(column)'.")
        }
        return self[column]
    }
}
