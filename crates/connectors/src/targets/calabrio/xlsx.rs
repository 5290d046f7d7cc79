//! A minimal `.xlsx` writer for Calabrio's agent import workbook (reference/calabrio.md §5): one
//! sheet of text, date and number cells, in an uncompressed ("stored") ZIP container.
//!
//! Hand-written rather than a spreadsheet crate: the workbook is six small XML parts, and a
//! stored ZIP needs only a CRC-32, so this costs no dependency. Text cells are inline strings
//! (`t="inlineStr"`), dates are serial day numbers with the built-in date format (style 1, numFmt
//! 14), which is what Calabrio's reader wants for StartDate ("a date cell").

/// A cell value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Nothing (the cell is left out).
    Empty,
    /// Text.
    Text(String),
    /// A calendar date, written as a date cell.
    Date(jiff::civil::Date),
    /// A number.
    Number(f64),
}

/// The bytes of a one-sheet workbook named `sheet` with `rows` (the first is the header).
pub fn workbook(sheet: &str, rows: &[Vec<Cell>]) -> Vec<u8> {
    let mut data = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
         <worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>",
    );
    for (r, row) in rows.iter().enumerate() {
        let n = r + 1;
        data.push_str(&format!("<row r=\"{n}\">"));
        for (c, cell) in row.iter().enumerate() {
            let at = format!("{}{n}", column_name(c));
            match cell {
                Cell::Empty => {}
                Cell::Text(t) => data.push_str(&format!(
                    "<c r=\"{at}\" t=\"inlineStr\"><is><t xml:space=\"preserve\">{}</t></is></c>",
                    escape(t)
                )),
                Cell::Date(d) => {
                    data.push_str(&format!("<c r=\"{at}\" s=\"1\"><v>{}</v></c>", serial(*d)))
                }
                Cell::Number(x) => data.push_str(&format!("<c r=\"{at}\"><v>{x}</v></c>")),
            }
        }
        data.push_str("</row>");
    }
    data.push_str("</sheetData></worksheet>");
    let parts: [(&str, String); 6] = [
        (
            "[Content_Types].xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
             <Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
             <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
             <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
             <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
             <Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>\
             <Override PartName=\"/xl/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/>\
             </Types>"
                .to_string(),
        ),
        (
            "_rels/.rels",
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
             <Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
             <Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/>\
             </Relationships>"
                .to_string(),
        ),
        (
            "xl/workbook.xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
                 <workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" \
                 xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">\
                 <sheets><sheet name=\"{}\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>",
                escape(sheet)
            ),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
             <Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
             <Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/>\
             <Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles\" Target=\"styles.xml\"/>\
             </Relationships>"
                .to_string(),
        ),
        (
            "xl/styles.xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
             <styleSheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">\
             <fonts count=\"1\"><font><sz val=\"11\"/><name val=\"Calibri\"/></font></fonts>\
             <fills count=\"1\"><fill><patternFill patternType=\"none\"/></fill></fills>\
             <borders count=\"1\"><border/></borders>\
             <cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/></cellStyleXfs>\
             <cellXfs count=\"2\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>\
             <xf numFmtId=\"14\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyNumberFormat=\"1\"/></cellXfs>\
             </styleSheet>"
                .to_string(),
        ),
        ("xl/worksheets/sheet1.xml", data),
    ];
    zip_stored(
        &parts
            .iter()
            .map(|(n, d)| (*n, d.as_bytes()))
            .collect::<Vec<_>>(),
    )
}

/// `A`, `B`, …, `Z`, `AA`, … for a zero-based column.
fn column_name(mut c: usize) -> String {
    let mut name = Vec::new();
    loop {
        name.push(b'A' + (c % 26) as u8);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    name.reverse();
    String::from_utf8(name).expect("ASCII")
}

/// The spreadsheet serial number of a date (days since 1899-12-30).
fn serial(date: jiff::civil::Date) -> i64 {
    let epoch = jiff::civil::date(1899, 12, 30);
    // Civil dates subtract to a span of whole days.
    i64::from((date - epoch).get_days())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// CRC-32 (IEEE), as ZIP wants it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A ZIP archive of uncompressed entries.
fn zip_stored(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    // 1980-01-01 00:00, the earliest DOS date: the workbook's bytes depend only on its content.
    let (time, date) = (0u16, 0x21u16);
    for (name, data) in entries {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let size = data.len() as u32;
        let mut header = Vec::new();
        header.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        header.extend_from_slice(&20u16.to_le_bytes()); // version needed
        header.extend_from_slice(&0u16.to_le_bytes()); // flags
        header.extend_from_slice(&0u16.to_le_bytes()); // stored
        header.extend_from_slice(&time.to_le_bytes());
        header.extend_from_slice(&date.to_le_bytes());
        header.extend_from_slice(&crc.to_le_bytes());
        header.extend_from_slice(&size.to_le_bytes());
        header.extend_from_slice(&size.to_le_bytes());
        header.extend_from_slice(&(name.len() as u16).to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes()); // extra
        out.extend_from_slice(&header);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        central.extend_from_slice(&header[4..30]);
        central.extend_from_slice(&0u16.to_le_bytes()); // comment
        central.extend_from_slice(&0u16.to_le_bytes()); // disk
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let central_offset = out.len() as u32;
    let central_size = central.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&central_size.to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn columns_and_dates() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(15), "P");
        assert_eq!(column_name(26), "AA");
        assert_eq!(serial(jiff::civil::date(2024, 3, 1)), 45352);
    }

    #[test]
    fn a_workbook_is_a_zip_with_the_sheet() {
        let bytes = workbook(
            "Agents",
            &[
                vec![Cell::Text("Firstname".into()), Cell::Text("A&B".into())],
                vec![
                    Cell::Date(jiff::civil::date(2024, 3, 1)),
                    Cell::Empty,
                    Cell::Number(4.0),
                ],
            ],
        );
        assert_eq!(&bytes[..4], b"PK\x03\x04");
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("<t xml:space=\"preserve\">A&amp;B</t>"));
        assert!(text.contains("<c r=\"A2\" s=\"1\"><v>45352</v></c>"));
        assert!(text.contains("<c r=\"C2\"><v>4</v></c>"));
        // End of central directory: 6 entries.
        let eocd = &bytes[bytes.len() - 22..];
        assert_eq!(&eocd[..4], &0x0605_4b50u32.to_le_bytes());
        assert_eq!(u16::from_le_bytes([eocd[10], eocd[11]]), 6);
    }
}
