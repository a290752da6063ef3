# Keeps the reference in docs/ in step with the code (t/005-docs.t).
#
# From the C sources (ngx_api_led_module/, searched recursively): every
# directive of an ngx_command_t array with the contexts of its flags, and
# every embedded variable (ngx_http_variable_t tables and names handed to
# ngx_http_add_variable; a prefix variable such as api_led_jwt_claim_ ends
# with "_").  From docs/*.md: the Syntax/Default/Context blocks and the
# variables of the "Embedded Variables" sections.  compare() says what
# differs.
#
#   perl -It/lib -MApiLed::Docs -e 'ApiLed::Docs::report(".")'
package ApiLed::Docs;

use strict;
use warnings;

use File::Find ();
use File::Spec;

# nginx's context flags, as nginx.org names the contexts, in its order
my @CONTEXTS = (
    [ NGX_MAIN_CONF      => 'main' ],
    [ NGX_HTTP_MAIN_CONF => 'http' ],
    [ NGX_HTTP_SRV_CONF  => 'server' ],
    [ NGX_HTTP_SIF_CONF  => 'if in server' ],
    [ NGX_HTTP_LOC_CONF  => 'location' ],
    [ NGX_HTTP_LIF_CONF  => 'if in location' ],
    [ NGX_HTTP_LMT_CONF  => 'limit_except' ],
    [ NGX_HTTP_UPS_CONF  => 'upstream' ],
);

my %CONTEXT_OF = map { $_->[0] => $_->[1] } @CONTEXTS;
my %CONTEXT_RANK;
@CONTEXT_RANK{ map { $_->[1] } @CONTEXTS } = (0 .. $#CONTEXTS);

sub sort_contexts {
    return sort { ($CONTEXT_RANK{$a} // 99) <=> ($CONTEXT_RANK{$b} // 99)
                  || $a cmp $b } @_;
}

sub read_text {
    my ($file) = @_;
    my $mode = $file =~ /\.md\z/ ? '<:encoding(UTF-8)' : '<';
    open my $fh, $mode, $file or die "$file: $!\n";
    local $/;
    my $text = <$fh>;
    close $fh;
    return $text;
}

# the C files under DIR, at any depth
sub c_files {
    my ($dir) = @_;
    my @files;
    File::Find::find({ no_chdir => 1, wanted => sub {
        push @files, $File::Find::name if /\.c\z/ && -f $_;
    } }, $dir);
    return sort @files;
}

# C text without comments (string literals kept: they hold the names)
sub strip_comments {
    my ($text) = @_;
    $text =~ s{ ("(?:[^"\\\n]|\\.)*" | '(?:[^'\\\n]|\\.)*')
              | (/\*.*?\*/)
              | //[^\n]* }
              { defined $1 ? $1
                : defined $2 ? ' ' . ("\n" x ($2 =~ tr/\n//)) : ' ' }gsex;
    return $text;
}

# line number of offset POS in TEXT
sub line_at {
    my ($text, $pos) = @_;
    return 1 + (substr($text, 0, $pos) =~ tr/\n//);
}

# { name => { contexts => [...], where => "file:line" } }
sub code_directives {
    my ($dir) = @_;
    my (%dirs, @errors);

    for my $file (c_files($dir)) {
        my $text = strip_comments(read_text($file));

        while ($text =~ /\bngx_command_t\s+\w+\s*\[\s*\]\s*=\s*\{/g) {
            my $start = pos $text;
            my $end = index $text, 'ngx_null_command', $start;
            if ($end < 0) {
                push @errors, "$file: an ngx_command_t array without "
                              . "ngx_null_command";
                next;
            }

            my $table = substr $text, $start, $end - $start;

            while ($table =~ /\{\s*ngx_string\(\s*"([^"]*)"\s*\)\s*,
                              \s*([^,]*?)\s*,/gsx)
            {
                my ($name, $flags) = ($1, $2);
                my $where = "$file:" . line_at($text, $start + $-[0]);

                next unless $name =~ /^api_led_/;

                my %ctx;
                for my $flag (split /[\s|()]+/, $flags) {
                    next if $flag eq '' || $flag =~ /^NGX_CONF_/
                            || $flag eq 'NGX_DIRECT_CONF';
                    if (!exists $CONTEXT_OF{$flag}) {
                        push @errors, "$where: $name: unknown flag $flag";
                        next;
                    }
                    $ctx{ $CONTEXT_OF{$flag} } = 1;
                }

                if (!%ctx) {
                    push @errors, "$where: $name: no context flag in "
                                  . "\"$flags\"";
                }

                if ($dirs{$name}) {
                    $ctx{$_} = 1 for @{ $dirs{$name}{contexts} };
                }

                $dirs{$name} = { contexts => [ sort_contexts(keys %ctx) ],
                                 where => $where };
            }
        }
    }

    return (\%dirs, \@errors);
}

# { name => "file:line" }; a prefix variable's name ends with "_"
sub code_variables {
    my ($dir) = @_;
    my %vars;

    for my $file (c_files($dir)) {
        my $text = strip_comments(read_text($file));

        # tables: static ngx_http_variable_t NAME[] = { { ngx_string(..), ..
        while ($text =~ /\bngx_http_variable_t\s+\w+\s*\[\s*\]\s*=\s*\{/g) {
            my $start = pos $text;
            my $end = index $text, 'ngx_http_null_variable', $start;
            $end = length $text if $end < 0;
            my $table = substr $text, $start, $end - $start;

            while ($table =~ /\{\s*ngx_string\(\s*"(api_led_[^"]*)"\s*\)
                              ([^}]*)\}/gsx)
            {
                my ($name, $rest) = ($1, $2);
                $name .= '_' if $rest =~ /NGX_HTTP_VAR_PREFIX/
                                && $name !~ /_\z/;
                $vars{$name} //= "$file:" . line_at($text,
                                                    $start + $-[0]);
            }
        }

        # single names: ngx_http_add_variable(cf, &IDENT, FLAGS)
        while ($text =~ /\bngx_http_add_variable\s*\(\s*\w+\s*,\s*&\s*(\w+)
                         \s*,\s*([^;]*?)\)\s*;/gsx)
        {
            my ($ident, $flags, $at) = ($1, $2, $-[0]);

            # the identifier's initializer in the same file (a static
            # ngx_str_t or a local one)
            next unless $text =~ /\b\Q$ident\E\s*=\s*
                                  ngx_string\(\s*"(api_led_[^"]*)"\s*\)/x;
            my $name = $1;
            $name .= '_' if $flags =~ /NGX_HTTP_VAR_PREFIX/
                            && $name !~ /_\z/;
            $vars{$name} //= "$file:" . line_at($text, $at);
        }
    }

    return \%vars;
}

sub md_files {
    my ($dir) = @_;
    opendir my $dh, $dir or return ();
    my @files = map { "$dir/$_" } sort grep { /\.md\z/ } readdir $dh;
    closedir $dh;
    return @files;
}

# { name => { contexts => [...], default => "...", where => "file:line" } }
sub doc_directives {
    my (@files) = @_;
    my (%dirs, @errors);

    for my $file (@files) {
        my @lines = split /\n/, read_text($file), -1;

        for (my $i = 0; $i < @lines; $i++) {
            # "Syntax: name;" (a directive without arguments) names "name"
            next unless $lines[$i] =~ /^\s*Syntax:\s*([^\s;]+)/;

            my $where = "$file:" . ($i + 1);
            my %names = ($1 => 1);
            my ($default, $context);

            # continuation lines of Syntax: more forms of the directive
            my $j = $i + 1;
            while ($j < @lines && $lines[$j] =~ /^\s+(api_led_\w+)/) {
                $names{$1} = 1;
                $j++;
            }

            for (; $j < @lines && $j <= $i + 12; $j++) {
                last if $lines[$j] =~ /^\s*Syntax:/;
                if ($lines[$j] =~ /^\s*Default:\s*(.*?)\s*$/) {
                    $default = $1;
                } elsif ($lines[$j] =~ /^\s*Context:\s*(.*?)\s*$/) {
                    $context = $1;
                    last;
                }
            }

            $i = $j;

            for my $name (sort keys %names) {
                if ($name !~ /^api_led_\w+\z/) {
                    push @errors, "$where: Syntax names \"$name\", "
                                  . "not an api_led_ directive";
                    next;
                }
                if (!defined $default || $default eq '') {
                    push @errors, "$where: $name: no Default line";
                }
                if (!defined $context) {
                    push @errors, "$where: $name: no Context line";
                    next;
                }
                if ($dirs{$name}) {
                    push @errors, "$where: $name is documented twice "
                                  . "(also $dirs{$name}{where})";
                    next;
                }

                my @ctx = map { s/^\s+|\s+$//gr } split /,/, $context;
                $dirs{$name} = { contexts => \@ctx, default => $default,
                                 where => $where };
            }
        }
    }

    return (\%dirs, \@errors);
}

# { name => "file:line" }: the variables an "Embedded Variables" section
# defines, each a list item that starts with `$api_led_name` or, for a
# prefix variable, `$api_led_prefix_NAME`
sub doc_variables {
    my (@files) = @_;
    my (%vars, @errors);

    for my $file (@files) {
        my @lines = split /\n/, read_text($file), -1;
        my $in = 0;
        my $fence = 0;

        for my $i (0 .. $#lines) {
            my $line = $lines[$i];

            $fence = !$fence if $line =~ /^\s*```/;
            next if $fence;

            if ($line =~ /^#+\s*(.*?)\s*$/) {
                my $title = $1;
                $in = $title =~ /^Embedded Variables\b/i;
                next;
            }

            next unless $in;
            next unless $line =~ /^\ ?[-*]\s+`\$(api_led_[a-z0-9_]*)
                                  ([A-Z][A-Z_]*)?`/x;

            my ($name, $suffix) = ($1, $2);
            my $where = "$file:" . ($i + 1);

            if (defined $suffix && $name !~ /_\z/) {
                push @errors, "$where: a prefix variable is written "
                              . "\$prefix_NAME: \$$name$suffix";
                next;
            }

            if ($vars{$name}) {
                push @errors, "$where: \$$name is documented twice "
                              . "(also $vars{$name})";
                next;
            }

            $vars{$name} = $where;
        }
    }

    return (\%vars, \@errors);
}

# what differs between the code under TOP/ngx_api_led_module and TOP/docs
sub compare {
    my ($top) = @_;
    my @problems;

    my ($code, $cerr) = code_directives("$top/ngx_api_led_module");
    my @docs = md_files("$top/docs");
    my ($doc, $derr) = doc_directives(@docs);
    push @problems, @$cerr, @$derr;

    for my $name (sort keys %$code) {
        my $c = $code->{$name};
        my $d = $doc->{$name};
        my $want = join ', ', @{ $c->{contexts} };

        if (!$d) {
            push @problems, "directive $name ($c->{where}) is not "
                            . "documented in docs/ (Context: $want)";
            next;
        }

        my $got = join ', ', sort_contexts(@{ $d->{contexts} });
        if ($got ne $want) {
            push @problems, "directive $name: $d->{where} says "
                            . "\"Context: $got\", $c->{where} says "
                            . "\"$want\"";
        }
    }

    for my $name (sort keys %$doc) {
        next if $code->{$name};
        push @problems, "directive $name is documented ($doc->{$name}{where})"
                        . " but no ngx_command_t array has it";
    }

    my $cvars = code_variables("$top/ngx_api_led_module");
    my ($dvars, $verr) = doc_variables(@docs);
    push @problems, @$verr;

    for my $name (sort keys %$cvars) {
        next if $dvars->{$name};
        my $how = $name =~ /_\z/ ? " (write it \$${name}NAME)" : '';
        push @problems, "variable \$$name ($cvars->{$name}) is not "
                        . "documented in an Embedded Variables section$how";
    }

    for my $name (sort keys %$dvars) {
        next if $cvars->{$name};
        push @problems, "variable \$$name is documented ($dvars->{$name}) "
                        . "but the code defines no such variable";
    }

    return { problems => \@problems, code => $code, doc => $doc,
             code_vars => $cvars, doc_vars => $dvars };
}

# Markdown links and cited paths that lead nowhere.  FILES are checked;
# a relative link is resolved from its file's folder, a cited path
# (`t/...`, `bench/...`) from TOP.  Anchors (#name) must name a heading.
sub broken_references {
    my ($top, @files) = @_;
    my @problems;
    my %anchors;

    my $anchors_of = sub {
        my ($file) = @_;
        return $anchors{$file} //= do {
            my %a;
            my %seen;
            my $fence = 0;
            for my $line (split /\n/, read_text($file)) {
                $fence = !$fence if $line =~ /^\s*```/;
                next if $fence || $line !~ /^#+\s+(.*?)\s*$/;
                my $slug = lc $1;
                $slug =~ s/[^\w\- ]//g;
                $slug =~ tr/ /-/;
                my $n = $seen{$slug}++;
                $a{ $n ? "$slug-$n" : $slug } = 1;
            }
            \%a;
        };
    };

    for my $file (@files) {
        my ($vol, $dir) = File::Spec->splitpath($file);
        $dir = File::Spec->catpath($vol, $dir, '') || '.';
        my $text = read_text($file);
        my $fence = 0;
        my $n = 0;

        for my $line (split /\n/, $text) {
            $n++;
            if ($line =~ /^\s*```/) {
                $fence = !$fence;
                next;
            }

            # [text](target): not inside code blocks
            while (!$fence && $line =~ /\]\(([^)\s]+)\)/g) {
                my $target = $1;
                next if $target =~ m{^[a-z][a-z0-9+.-]*:}i;   # a URL
                my ($path, $anchor) = split /#/, $target, 2;
                my $full = $path eq '' ? $file : "$dir/$path";
                if ($path ne '' && !-e $full) {
                    push @problems, "$file:$n: link to $path: no such file";
                    next;
                }
                if (defined $anchor && $anchor ne '' && $full =~ /\.md\z/
                    && !$anchors_of->($full)->{$anchor})
                {
                    push @problems, "$file:$n: link to $target: no such "
                                    . "heading";
                }
            }

            # `path` of the repository, also in code blocks
            while ($line =~ m{(?:^|[\s`(\[])((?:t|bench|conf-examples|demo|docs
                              |ngx_api_led_module)/[^\s`'")\]]*)}gx)
            {
                my $path = $1;
                $path =~ s/#.*//;
                $path =~ s/[.,:;]+\z//;
                next if $path =~ m{^demo/run/};       # made by make demo
                next if $path =~ m{[*\$\{<]};        # a pattern
                push @problems, "$file:$n: cites $path: no such file"
                    unless -e "$top/$path";
            }

            # source files: core/ngx_api_led_x.c is under
            # ngx_api_led_module/, a bare ngx_api_led_x.c anywhere in it
            while ($line =~ m{(?<![\w/.-])((?:[\w-]+/)*ngx_api_led\w*\.[ch])
                              (?![\w])}gx)
            {
                my $path = $1;
                next if $path =~ m{^ngx_api_led_module/}
                        || -e "$top/ngx_api_led_module/$path";
                next if $path !~ m{/}
                        && grep { m{/\Q$path\E\z} }
                                c_files("$top/ngx_api_led_module"),
                                glob("$top/ngx_api_led_module/*/*.h");
                push @problems, "$file:$n: cites $path: no such file";
            }

            # the project's own documents: DESIGN.md, README.md...
            while ($line =~ /`([A-Z][A-Z_]*\.md)`/g) {
                my $name = $1;
                push @problems, "$file:$n: cites $name: no such file"
                    unless -e "$dir/$name" || -e "$top/$name";
            }
        }
    }

    return \@problems;
}

sub report {
    my ($top) = @_;
    my $r = compare($top);

    printf "%-36s %-32s %s\n", 'directive', 'code', 'docs';
    for my $name (sort keys %{ { %{ $r->{code} }, %{ $r->{doc} } } }) {
        printf "%-36s %-32s %s\n", $name,
            join(', ', @{ ($r->{code}{$name} || {})->{contexts} || ['-'] }),
            join(', ', @{ ($r->{doc}{$name} || {})->{contexts} || ['-'] });
    }
    print "\n";
    for my $name (sort keys %{ { %{ $r->{code_vars} },
                                 %{ $r->{doc_vars} } } })
    {
        printf "\$%-35s %-32s %s\n", $name,
            $r->{code_vars}{$name} ? 'code' : '-',
            $r->{doc_vars}{$name} ? 'docs' : '-';
    }
    print "\n", map { "$_\n" } @{ $r->{problems} };
}

1;
