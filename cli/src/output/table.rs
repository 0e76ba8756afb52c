//! Column-aligned tables as calicoctl prints them (Go's `tabwriter` with minimum cell width 5 and
//! padding 3): every column is as wide as its widest cell plus three spaces, and at least five.
//! Trailing spaces at the end of a line are dropped.

const MIN_WIDTH: usize = 5;
const PADDING: usize = 3;

/// Renders `headings` and `rows` (each as long as `headings`) as aligned text, one line each.
pub fn render(headings: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headings.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let widths: Vec<usize> = widths
        .into_iter()
        .map(|w| (w + PADDING).max(MIN_WIDTH))
        .collect();
    let mut out = String::new();
    let header: Vec<String> = headings.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            let width = widths.get(i).copied().unwrap_or(0);
            let pad = width.saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns_with_padding_three() {
        let rows = vec![
            vec![
                "pool-1".to_string(),
                "10.0.0.0/16".to_string(),
                "all()".to_string(),
            ],
            vec!["p2".to_string(), "fd00::/64".to_string(), String::new()],
        ];
        assert_eq!(
            render(&["NAME", "CIDR", "SELECTOR"], &rows),
            "NAME     CIDR          SELECTOR\n\
             pool-1   10.0.0.0/16   all()\n\
             p2       fd00::/64\n"
        );
    }

    #[test]
    fn short_columns_are_at_least_five_wide() {
        assert_eq!(
            render(&["A", "B"], &[vec!["x".into(), "y".into()]]),
            "A    B\nx    y\n"
        );
    }
}
